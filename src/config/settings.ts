import type { DestinationDefaults } from '../metrics/destination.js';
import { contentLines } from './lines.js';
import { readConfigFile } from './read-file.js';
import { quotePrefix } from '../redact.js';
import { SETTING_KEYS, SETTING_NAMES, SETTING_ROWS, SETTINGS, envOf, type CheckOutput, type RawSettings, type SettingKey, type SettingName } from './settings-table.js';
import type { LineError } from './tests-file.js';
import type { LogFormat, LogLevel } from '../log.js';
import { defaultGraphitePrefix, defaultStatsdPrefix, type StatsdTagFormat } from '../metrics/names.js';

export * from './settings-table.js';

/** The agent's settings after file, environment and flags are merged. */
export interface Settings {
  /** Tests file or directory. */
  config: string;
  /** Agent settings file this came from (may not exist). */
  settingsFile: string;
  stopFile: string;
  lockDir: string;
  stateDir: string;
  /** Day files of the journal older than this many days are deleted (one per run). */
  journalDays: number;
  /** Where scenario modules live: a `test_type` that is not built in names `<typesDir>/<test_type>.mjs`. */
  typesDir: string;
  /** Once a scenario module is imported, a copy whose event loop is blocked this long is killed (seconds). */
  blockedLimitSeconds: number;
  /** Prefix (unexpanded, may hold `{host}`) for StatsD names. */
  statsdPrefix: string;
  /** The test and host as StatsD tags in this syntax instead of path segments (`none`: path segments). */
  statsdTags: StatsdTagFormat;
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

/**
 * Parses a settings file's text (`key = value` lines, `#` comments; LF, CRLF or lone CR line ends);
 * never throws.
 */
export function parseSettingsText(text: string, file: string): { raw: RawSettings; errors: LineError[] } {
  const raw: RawSettings = {};
  const errors: LineError[] = [];
  contentLines(text).forEach(({ line, text: t }) => {
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
    const one = SETTINGS[key as SettingKey].schema.safeParse(value);
    if (!one.success) {
      errors.push({ file, line, field: key, message: one.error.issues[0]?.message ?? 'invalid' });
      return;
    }
    raw[key as SettingKey] = value;
  });
  return { raw, errors };
}

/** Reads every `CANIHAZ_<KEY>` variable (CANIHAZ_CONFIG, CANIHAZ_LIFETIME, …); an empty one is unset. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const raw: RawSettings = {};
  for (const key of SETTING_NAMES) {
    const v = env[envOf(key)];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  return raw;
}

/** Why the settings could not be used: `source` is where the value came from (`environment`, `flags`, a file). */
export type SettingsProblem = { source: string; field: SettingName; message: string };

/** Each setting's value, of its schema's type; a computed one may be absent. */
type Table = typeof SETTINGS;
type Values = { [K in SettingName]: CheckOutput<Table[K]['schema']> | (Table[K] extends { computed: true } ? undefined : never) };

/**
 * Merges the layers (settings file < environment < flags, lowest first) over the defaults and checks
 * every value, returning every problem, each naming where the value came from. A run's lifetime is
 * not a setting of the agent: it comes back beside the settings (undefined: the minute).
 */
export function resolveSettings(
  layers: { source: string; raw: RawSettings }[],
): { ok: true; settings: Settings; lifetimeSeconds?: number } | { ok: false; problems: SettingsProblem[] } {
  const given: RawSettings = {};
  const origin: Partial<Record<SettingName, string>> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer.raw) as [SettingName, string][]) {
      given[k] = v;
      origin[k] = layer.source;
    }
  }
  const values: Partial<Record<SettingName, unknown>> = {};
  const problems: SettingsProblem[] = [];
  for (const { key, computed, schema, default: byDefault } of SETTING_ROWS) {
    const text = given[key] ?? (computed ? undefined : byDefault);
    if (text === undefined) continue;
    const parsed = schema.safeParse(text);
    if (parsed.success) values[key] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push({ source: origin[key] ?? 'defaults', field: key, message: issue.message });
  }
  if (problems.length > 0) return { ok: false, problems };
  const v = values as Values;
  return {
    ok: true,
    settings: {
      config: v.config,
      settingsFile: v.settings,
      stopFile: v.stop_file,
      lockDir: v.lock_dir,
      stateDir: v.state_dir,
      journalDays: v.journal_days,
      typesDir: v.types_dir,
      blockedLimitSeconds: v.blocked_limit,
      statsdPrefix: v.statsd_prefix ?? defaultStatsdPrefix(v.prefix),
      statsdTags: v.statsd_tags,
      graphitePrefix: v.graphite_prefix ?? defaultGraphitePrefix(v.prefix),
      destinationDefaults: { statsd: v.statsd, graphite: v.graphite },
      maxFrequency: v.max_frequency,
      maxTotalRate: v.max_total_rate,
      strictModes: v.strict_modes,
      maxInflight: v.max_inflight,
      phase: v.phase,
      logFormat: v.log_format,
      logLevel: v.log_level,
    },
    ...(v.lifetime !== undefined ? { lifetimeSeconds: v.lifetime } : {}),
  };
}

/** Defaults for a server install, from the table; every path can be pointed elsewhere so tests need no root. */
export const DEFAULT_SETTINGS: Settings = (() => {
  const r = resolveSettings([]);
  if (!r.ok) throw new Error(`a default in SETTINGS is invalid: ${JSON.stringify(r.problems)}`);
  return r.settings;
})();

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

/**
 * Loads the settings: the settings file (named by the environment or a flag, never by itself, and
 * checked with their strict_modes only), then the environment, then the flags. Every bad value of
 * the environment or the flags is returned at once; a bad line of the file is skipped and returned.
 */
export async function loadSettings(env: NodeJS.ProcessEnv, flags: RawSettings): Promise<
  | { status: 'ok'; settings: Settings; lifetimeSeconds?: number; lineErrors: LineError[] }
  | { status: 'invalid'; problems: SettingsProblem[] }
  | { status: 'unreadable'; file: string; message: string }
> {
  const fromEnv = settingsFromEnv(env);
  const named = flags.settings ?? fromEnv.settings;
  const file = named ?? SETTINGS.settings.default;
  const strictModes = (flags.strict_modes ?? fromEnv.strict_modes) !== 'off';
  // A file name that is no path (`--settings=`) is reported with the other problems, not read.
  const read = SETTINGS.settings.schema.safeParse(file).success ? await readSettingsFile(file, named !== undefined, { strictModes }) : { status: 'missing' as const };
  if (read.status === 'unreadable') {
    const message = read.message.startsWith(`${file}: `) ? read.message.slice(file.length + 2) : read.message;
    return { status: 'unreadable', file, message };
  }
  const resolved = resolveSettings([
    { source: file, raw: read.status === 'ok' ? read.raw : {} },
    { source: 'environment', raw: fromEnv },
    { source: 'flags', raw: flags },
  ]);
  if (!resolved.ok) return { status: 'invalid', problems: resolved.problems };
  const { settings, lifetimeSeconds } = resolved;
  return { status: 'ok', settings, ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}), lineErrors: read.status === 'ok' ? read.errors : [] };
}
