import { z } from 'zod';
import { DEFAULT_DESTINATIONS, parseHostPort, type DestinationDefaults } from './destination.js';
import { readConfigFile } from './read-file.js';
import { quotePrefix, quoteValue } from './redact.js';
import { DEFAULT_MAX_FREQUENCY, DEFAULT_MAX_TOTAL_RATE, type LineError } from './tests-file.js';
import { LOG_LEVELS, type LogFormat, type LogLevel } from '../log.js';
import { DEFAULT_PREFIX, defaultGraphitePrefix, defaultStatsdPrefix } from '../metrics/names.js';

/** The agent's settings after file, environment and flags are merged. */
export interface Settings {
  /** Tests file or directory. */
  config: string;
  /** Agent settings file this came from (may not exist). */
  settingsFile: string;
  stopFile: string;
  lockDir: string;
  stateDir: string;
  /** Prefix (unexpanded, may hold `{host}`) for StatsD names. */
  statsdPrefix: string;
  /** Prefix (unexpanded) for Graphite paths. */
  graphitePrefix: string;
  destinationDefaults: DestinationDefaults;
  maxFrequency: number;
  /** Highest sum of every test's frequency (executions per minute, all tests of this agent). */
  maxTotalRate: number;
  /** Refuse config and settings files others could change (sshd's StrictModes). */
  strictModes: boolean;
  /** Most executions in flight across all tests of one run. */
  maxInflight: number;
  /** Whether each host and test gets its own phase; false fires every host in step (fleet tests). */
  phase: boolean;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

/** Defaults for a server install; every path can be pointed elsewhere so tests need no root. */
export const DEFAULT_SETTINGS: Settings = {
  config: '/etc/canihaz/tests.conf',
  settingsFile: '/etc/canihaz/canihaz.conf',
  stopFile: '/etc/canihaz/stop',
  lockDir: '/run/canihaz',
  stateDir: '/var/lib/canihaz',
  statsdPrefix: defaultStatsdPrefix(DEFAULT_PREFIX),
  graphitePrefix: defaultGraphitePrefix(DEFAULT_PREFIX),
  destinationDefaults: DEFAULT_DESTINATIONS,
  maxFrequency: DEFAULT_MAX_FREQUENCY,
  maxTotalRate: DEFAULT_MAX_TOTAL_RATE,
  strictModes: true,
  maxInflight: 10_000,
  phase: true,
  logFormat: 'logfmt',
  logLevel: 'notice',
};

/** The keys a settings file, `CANIHAZ_*` variable or flag may set, as raw strings. */
export const SETTING_KEYS = [
  'config',
  'stop_file',
  'lock_dir',
  'state_dir',
  'statsd',
  'graphite',
  'prefix',
  'statsd_prefix',
  'graphite_prefix',
  'max_frequency',
  'max_total_rate',
  'max_inflight',
  'phase',
  'strict_modes',
  'log_format',
  'log_level',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];
export type RawSettings = Partial<Record<SettingKey, string>>;

const path = z.string().min(1, { error: 'must not be empty' });
const hostPort = z.string().transform((v, ctx) => {
  const hp = parseHostPort(v);
  if ('error' in hp) {
    ctx.addIssue({ code: 'custom', message: hp.error });
    return z.NEVER;
  }
  return hp;
});
const prefix = z
  .string()
  .regex(/^(?:[A-Za-z0-9_-]|\{host\})+(?:\.(?:[A-Za-z0-9_-]|\{host\})+)*$/, {
    error: (iss) => `expected dot-separated segments of A-Z a-z 0-9 _ - and {host}, got ${quoteValue(String(iss.input))}`,
  });
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: (iss) => `expected a whole number, got ${quoteValue(String(iss.input))}` })
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));

/** The longest `--lifetime`: a run never owns more than one minute. */
export const MAX_LIFETIME_SECONDS = 60;

const lifetime = wholeNumber(1, MAX_LIFETIME_SECONDS);

/**
 * Parses a run's lifetime in seconds (`--lifetime`, `CANIHAZ_LIFETIME`), with the same rules and
 * messages as the numeric settings. Not a settings-file key: it is a per-invocation trial knob, and
 * a line in /etc/canihaz/canihaz.conf would quietly shorten every cron minute of a host.
 */
export function parseLifetime(text: string): { ok: true; seconds: number } | { ok: false; message: string } {
  const r = lifetime.safeParse(text);
  return r.success ? { ok: true, seconds: r.data } : { ok: false, message: r.error.issues[0]?.message ?? 'invalid' };
}

/** An `on`/`off` switch. */
const onOff = z.enum(['on', 'off'], { error: (iss) => `expected on or off, got ${quoteValue(String(iss.input))}` });

const rawSchema = z.object({
  config: path.optional(),
  stop_file: path.optional(),
  lock_dir: path.optional(),
  state_dir: path.optional(),
  statsd: hostPort.optional(),
  graphite: hostPort.optional(),
  prefix: prefix.optional(),
  statsd_prefix: prefix.optional(),
  graphite_prefix: prefix.optional(),
  max_frequency: wholeNumber(1, 6_000_000).optional(),
  max_total_rate: wholeNumber(1, 600_000_000).optional(),
  max_inflight: wholeNumber(1, 1_000_000).optional(),
  phase: onOff.optional(),
  strict_modes: onOff.optional(),
  log_format: z.enum(['logfmt', 'json'], { error: (iss) => `expected logfmt or json, got ${quoteValue(String(iss.input))}` }).optional(),
  log_level: z.enum(LOG_LEVELS, { error: (iss) => `expected one of ${LOG_LEVELS.join(', ')}, got ${quoteValue(String(iss.input))}` }).optional(),
});

/**
 * Parses a settings file's text (`key = value` lines, `#` comments; LF, CRLF or lone CR line ends);
 * never throws.
 */
export function parseSettingsText(text: string, file: string): { raw: RawSettings; errors: LineError[] } {
  const raw: RawSettings = {};
  const errors: LineError[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .forEach((lineText, index) => {
      const line = index + 1;
      const t = lineText.trim();
      if (t === '' || t.startsWith('#')) return;
      const eq = t.indexOf('=');
      if (eq <= 0) {
        // Echoed only in part: the line may be a host:port with credentials missing its key.
        errors.push({ file, line, field: 'line', message: `expected key = value, got ${quotePrefix(t)}` });
        return;
      }
      const key = t.slice(0, eq).trim();
      const value = t.slice(eq + 1).trim();
      if (!/^[A-Za-z0-9_.-]{1,40}$/.test(key)) {
        errors.push({ file, line, field: 'line', message: `expected key = value with a key such as statsd, got ${quotePrefix(key)}` });
        return;
      }
      if (!(SETTING_KEYS as readonly string[]).includes(key)) {
        errors.push({ file, line, field: key, message: `unknown setting; known: ${SETTING_KEYS.join(', ')}` });
        return;
      }
      const one = rawSchema.shape[key as SettingKey].safeParse(value);
      if (!one.success) {
        errors.push({ file, line, field: key, message: one.error.issues[0]?.message ?? 'invalid' });
        return;
      }
      raw[key as SettingKey] = value;
    });
  return { raw, errors };
}

/** Reads `CANIHAZ_<KEY>` variables (e.g. CANIHAZ_CONFIG, CANIHAZ_STOP_FILE). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const raw: RawSettings = {};
  for (const key of SETTING_KEYS) {
    const v = env[`CANIHAZ_${key.toUpperCase()}`];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  return raw;
}

/** Why the settings could not be used. */
export type SettingsProblem = { source: string; field: string; message: string };

/**
 * Merges the layers (file < environment < flags) over the defaults and validates the result,
 * returning every problem, each naming where the value came from.
 */
export function resolveSettings(
  layers: { source: string; raw: RawSettings }[],
  settingsFile: string,
): { ok: true; settings: Settings } | { ok: false; problems: SettingsProblem[] } {
  const merged: RawSettings = {};
  const origin: Partial<Record<SettingKey, string>> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer.raw) as [SettingKey, string][]) {
      merged[k] = v;
      origin[k] = layer.source;
    }
  }
  const parsed = rawSchema.safeParse(merged);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => {
        const field = String(i.path[0] ?? 'settings') as SettingKey;
        return { source: origin[field] ?? 'settings', field, message: i.message };
      }),
    };
  }
  const d = parsed.data;
  const base = d.prefix;
  return {
    ok: true,
    settings: {
      config: d.config ?? DEFAULT_SETTINGS.config,
      settingsFile,
      stopFile: d.stop_file ?? DEFAULT_SETTINGS.stopFile,
      lockDir: d.lock_dir ?? DEFAULT_SETTINGS.lockDir,
      stateDir: d.state_dir ?? DEFAULT_SETTINGS.stateDir,
      statsdPrefix: d.statsd_prefix ?? (base ? defaultStatsdPrefix(base) : DEFAULT_SETTINGS.statsdPrefix),
      graphitePrefix: d.graphite_prefix ?? (base ? defaultGraphitePrefix(base) : DEFAULT_SETTINGS.graphitePrefix),
      destinationDefaults: {
        statsd: d.statsd ?? DEFAULT_DESTINATIONS.statsd,
        graphite: d.graphite ?? DEFAULT_DESTINATIONS.graphite,
      },
      maxFrequency: d.max_frequency ?? DEFAULT_SETTINGS.maxFrequency,
      maxTotalRate: d.max_total_rate ?? DEFAULT_SETTINGS.maxTotalRate,
      strictModes: d.strict_modes === undefined ? DEFAULT_SETTINGS.strictModes : d.strict_modes === 'on',
      maxInflight: d.max_inflight ?? DEFAULT_SETTINGS.maxInflight,
      phase: d.phase === undefined ? DEFAULT_SETTINGS.phase : d.phase === 'on',
      logFormat: d.log_format ?? DEFAULT_SETTINGS.logFormat,
      logLevel: d.log_level ?? DEFAULT_SETTINGS.logLevel,
    },
  };
}

/**
 * Reads a settings file; a missing file is not an error (every default applies) unless `required`.
 * Like the tests file it is never blocked on (a FIFO is refused) and, with `strictModes`, refused
 * when others could change it. The file's own `strict_modes` line cannot relax its own check: the
 * caller decides `strictModes` from flags and the environment only.
 */
export async function readSettingsFile(
  file: string,
  required: boolean,
  options: { strictModes: boolean } = { strictModes: true },
): Promise<{ status: 'ok'; raw: RawSettings; errors: LineError[] } | { status: 'missing' } | { status: 'unreadable'; message: string }> {
  const read = await readConfigFile(file, options);
  if (read.status === 'missing') return required ? { status: 'unreadable', message: `${file}: no such file` } : { status: 'missing' };
  if (read.status === 'refused') return { status: 'unreadable', message: read.message };
  return { status: 'ok', ...parseSettingsText(read.text, file) };
}
