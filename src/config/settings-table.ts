import { DEFAULT_DESTINATIONS, parseHostPort } from '../metrics/destination.js';
import { quoteValue } from '../redact.js';
import { DEFAULT_MAX_FREQUENCY, DEFAULT_MAX_TOTAL_RATE } from './lines.js';
import { LOG_LEVELS } from '../log.js';
import { DEFAULT_PREFIX, defaultGraphitePrefix, defaultStatsdPrefix, STATSD_TAG_FORMATS } from '../metrics/names.js';

/** A command, as named on the command line; each setting lists the commands that use it. */
export type CommandName = 'run' | 'daemon' | 'check' | 'report' | 'dashboard' | 'replay';

/** The commands that run tests: `daemon` passes its options on to each `run` child. */
const RUNNING: readonly CommandName[] = ['run', 'daemon'];
const EVERY: readonly CommandName[] = ['run', 'daemon', 'check'];

/**
 * One setting, written once. Its key is the settings-file key; `--<key with dashes>` is its flag and
 * `CANIHAZ_<KEY>` its environment variable. The parseArgs options, every help text, the environment
 * reading, the settings-file key check and the layering (file < environment < flags) derive from it.
 */
export interface SettingSpec {
  /** One-letter flag (`-c`). */
  short?: string;
  /** What the value is, in help (`PATH`, `N`). */
  arg: string;
  /** One line for `--help`. */
  doc: string;
  /** The default as a settings file would spell it; with `computed`, what no value means, in words. */
  default: string;
  /** No default value: the setting is computed from others (`<prefix>`) or its absence means something. */
  computed?: true;
  /** Checks a value given as text and turns it into the setting's type. */
  schema: TextCheck<unknown>;
  /** The commands that use it (every command accepts and checks every setting). */
  usedBy: readonly CommandName[];
  /** `anywhere`: settings file, environment, flag. `invocation`: environment and flag only. */
  from: 'anywhere' | 'invocation';
}

/**
 * Checks a setting's text and turns it into the setting's type, with zod's `safeParse` shape. Written
 * by hand, not with zod: every start reads the settings (`--help`, `--version` and a run that finds
 * the stop file included), and loading zod would cost each of them more than the rest of its start.
 */
export interface TextCheck<T> {
  safeParse(text: string): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
}

/** The type a TextCheck gives. */
export type CheckOutput<C> = C extends TextCheck<infer T> ? T : never;

type Checked<T> = { value: T } | { problem: string };
const ok = <T>(value: T): Checked<T> => ({ value });
const bad = (problem: string): Checked<never> => ({ problem });
const textCheck = <T>(parse: (text: string) => Checked<T>): TextCheck<T> => ({
  safeParse(text) {
    const r = parse(text);
    return 'problem' in r ? { success: false, error: { issues: [{ message: r.problem }] } } : { success: true, data: r.value };
  },
});

const path = textCheck((v) => (v.length >= 1 ? ok(v) : bad('must not be empty')));
const hostPort = textCheck((v) => {
  const hp = parseHostPort(v);
  return 'error' in hp ? bad(hp.error) : ok(hp);
});
const PREFIX_RE = /^(?:[A-Za-z0-9_-]|\{host\})+(?:\.(?:[A-Za-z0-9_-]|\{host\})+)*$/;
const prefix = textCheck((v) =>
  PREFIX_RE.test(v) ? ok(v) : bad(`expected dot-separated segments of A-Z a-z 0-9 _ - and {host}, got ${quoteValue(v)}`),
);
const wholeNumber = (min: number, max: number) =>
  textCheck((v) => {
    if (!/^\d+$/.test(v)) return bad(`expected a whole number, got ${quoteValue(v)}`);
    const n = Number(v);
    return n < min ? bad(`must be at least ${min}`) : n > max ? bad(`must be at most ${max}`) : ok(n);
  });
/** An `on`/`off` switch, as a boolean. */
const onOff = textCheck((v) => (v === 'on' || v === 'off' ? ok(v === 'on') : bad(`expected on or off, got ${quoteValue(v)}`)));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, say: string) =>
  textCheck((v) => ((values as readonly string[]).includes(v) ? ok(v as T[number]) : bad(`expected ${say}, got ${quoteValue(v)}`)));

/** The longest `--lifetime`: a run never owns more than one minute. */
export const MAX_LIFETIME_SECONDS = 60;

const hostPortText = (hp: { host: string; port: number }) => `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;

/** Every setting, in help order; see SettingSpec. */
export const SETTINGS = {
  config: {
    doc: 'tests file, or directory of *.conf files',
    short: 'c', arg: 'PATH', default: '/etc/canihaz/tests.conf', schema: path, usedBy: EVERY, from: 'anywhere',
  },
  settings: {
    doc: 'agent settings file',
    arg: 'PATH', default: '/etc/canihaz/canihaz.conf', schema: path, usedBy: [...EVERY, 'report', 'dashboard', 'replay'], from: 'invocation',
  },
  // Not a settings-file key: a trial knob, and a line in /etc/canihaz/canihaz.conf would quietly
  // shorten every cron minute of a host.
  lifetime: {
    doc: `own [now, now + SECONDS), 1-${MAX_LIFETIME_SECONDS}; for trials`,
    arg: 'SECONDS', default: 'the minute', computed: true, schema: wholeNumber(1, MAX_LIFETIME_SECONDS), usedBy: RUNNING, from: 'invocation',
  },
  stop_file: {
    doc: 'while this file exists, nothing runs',
    arg: 'PATH', default: '/etc/canihaz/stop', schema: path, usedBy: RUNNING, from: 'anywhere',
  },
  lock_dir: {
    doc: 'where the three lock slots live',
    arg: 'PATH', default: '/run/canihaz', schema: path, usedBy: RUNNING, from: 'anywhere',
  },
  state_dir: {
    doc: 'where the results journal is kept',
    arg: 'PATH', default: '/var/lib/canihaz', schema: path, usedBy: [...RUNNING, 'report', 'dashboard', 'replay'], from: 'anywhere',
  },
  journal_days: {
    doc: 'days of journal kept, 1-366',
    arg: 'DAYS', default: '7', schema: wholeNumber(1, 366), usedBy: RUNNING, from: 'anywhere',
  },
  types_dir: {
    doc: 'scenario modules: <test_type>.mjs',
    arg: 'PATH', default: '/etc/canihaz/types', schema: path, usedBy: EVERY, from: 'anywhere',
  },
  blocked_limit: {
    doc: 'kill a copy blocked this long by a module',
    arg: 'SECONDS', default: '30', schema: wholeNumber(1, 600), usedBy: EVERY, from: 'anywhere',
  },
  statsd: {
    doc: 'where the word "statsd" sends',
    arg: 'HOST:PORT', default: hostPortText(DEFAULT_DESTINATIONS.statsd), schema: hostPort, usedBy: RUNNING, from: 'anywhere',
  },
  graphite: {
    doc: 'where the word "graphite" sends',
    arg: 'HOST:PORT', default: hostPortText(DEFAULT_DESTINATIONS.graphite), schema: hostPort, usedBy: [...RUNNING, 'replay'], from: 'anywhere',
  },
  prefix: {
    doc: 'metric prefix ({host} = short hostname)',
    arg: 'P', default: DEFAULT_PREFIX, schema: prefix, usedBy: [...RUNNING, 'replay'], from: 'anywhere',
  },
  statsd_prefix: {
    doc: 'StatsD prefix',
    arg: 'P', default: defaultStatsdPrefix('<prefix>'), computed: true, schema: prefix, usedBy: RUNNING, from: 'anywhere',
  },
  statsd_tags: {
    doc: 'send the test and host as StatsD tags',
    arg: 'none|dogstatsd|telegraf', default: 'none', schema: oneOf(STATSD_TAG_FORMATS, 'none, dogstatsd or telegraf'), usedBy: RUNNING, from: 'anywhere',
  },
  graphite_prefix: {
    doc: 'Graphite prefix',
    arg: 'P', default: defaultGraphitePrefix('<prefix>'), computed: true, schema: prefix, usedBy: [...RUNNING, 'replay'], from: 'anywhere',
  },
  max_frequency: {
    doc: 'highest executions/minute of one test',
    arg: 'N', default: String(DEFAULT_MAX_FREQUENCY), schema: wholeNumber(1, 6_000_000), usedBy: EVERY, from: 'anywhere',
  },
  max_total_rate: {
    doc: 'highest executions/minute, all tests',
    arg: 'N', default: String(DEFAULT_MAX_TOTAL_RATE), schema: wholeNumber(1, 600_000_000), usedBy: EVERY, from: 'anywhere',
  },
  max_inflight: {
    doc: 'most executions in flight in one run',
    arg: 'N', default: '10000', schema: wholeNumber(1, 1_000_000), usedBy: RUNNING, from: 'anywhere',
  },
  phase: {
    doc: 'off = all hosts in step (fleet tests)',
    arg: 'on|off', default: 'on', schema: onOff, usedBy: RUNNING, from: 'anywhere',
  },
  strict_modes: {
    doc: 'refuse config, modules others can change',
    arg: 'on|off', default: 'on', schema: onOff, usedBy: EVERY, from: 'anywhere',
  },
  log_level: {
    doc: LOG_LEVELS.join('|'),
    arg: 'L', default: 'notice', schema: oneOf(LOG_LEVELS, `one of ${LOG_LEVELS.join(', ')}`), usedBy: [...RUNNING, 'dashboard'], from: 'anywhere',
  },
  log_format: {
    doc: 'logfmt|json',
    arg: 'F', default: 'logfmt', schema: oneOf(['logfmt', 'json'], 'logfmt or json'), usedBy: [...RUNNING, 'dashboard'], from: 'anywhere',
  },
} as const satisfies Record<string, SettingSpec>;

type Table = typeof SETTINGS;
/** Every setting's key: the settings-file key, and the flag and variable it names. */
export type SettingName = keyof Table;
/** The keys a settings file may hold. */
export type SettingKey = { [K in SettingName]: Table[K]['from'] extends 'anywhere' ? K : never }[SettingName];
/** Settings as given, raw text by key. */
export type RawSettings = Partial<Record<SettingName, string>>;

/** Every setting's key, in help order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
/** The keys a settings file may hold (all but `settings` and `lifetime`). */
export const SETTING_KEYS = SETTING_NAMES.filter((k): k is SettingKey => SETTINGS[k].from === 'anywhere');

/** `stop-file` (the flag, without `--`) for `stop_file`. */
export const flagOf = (key: SettingName): string => key.replaceAll('_', '-');
/** `CANIHAZ_STOP_FILE` for `stop_file`. */
export const envOf = (key: SettingName): string => `CANIHAZ_${key.toUpperCase()}`;

/** One row of the table, its flag and variable spelled out. */
export type SettingRow = SettingSpec & { key: SettingName; flag: string; env: string };
/** The table as rows, in help order. */
export const SETTING_ROWS: readonly SettingRow[] = SETTING_NAMES.map((key) => ({ key, flag: flagOf(key), env: envOf(key), ...SETTINGS[key] }));

