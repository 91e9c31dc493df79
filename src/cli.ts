#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { systemClock } from './clock.js';
import { formatLineError } from './config/tests-file.js';
import { quoteValue } from './config/redact.js';
import {
  DEFAULT_SETTINGS,
  MAX_LIFETIME_SECONDS,
  parseLifetime,
  readSettingsFile,
  resolveSettings,
  settingsFromEnv,
  type RawSettings,
  type Settings,
} from './config/settings.js';
import { CanihazError, ExitCode, exitCodeFor } from './errors.js';
import { onLimitHit } from './limits.js';
import { createLogger, type Logger } from './log.js';

type CommandName = 'run' | 'daemon' | 'check';

/** The commands that run tests: `daemon` passes its options on to each `run` child. */
const RUNNING: readonly CommandName[] = ['run', 'daemon'];
const EVERY: readonly CommandName[] = ['run', 'daemon', 'check'];

/** One option: its flag, its help line, and the commands that use it. */
interface OptionDoc {
  /** Long name, without `--`; as a setting key its dashes become underscores. */
  flag: string;
  short?: string;
  arg: string;
  doc: string;
  default: string;
  /** The commands that use it; every command accepts and validates every option. */
  usedBy: readonly CommandName[];
}

/**
 * Every option. Each command accepts all of them (and validates them, like the settings file and
 * the environment, which every command reads), so one set of flags serves every command; a
 * command's help lists only those it uses.
 */
const OPTIONS: readonly OptionDoc[] = [
  { flag: 'config', short: 'c', arg: 'PATH', doc: 'tests file, or directory of *.conf files', default: DEFAULT_SETTINGS.config, usedBy: EVERY },
  { flag: 'settings', arg: 'PATH', doc: 'agent settings file', default: DEFAULT_SETTINGS.settingsFile, usedBy: EVERY },
  { flag: 'lifetime', arg: 'SECONDS', doc: `own [now, now + SECONDS), 1-${MAX_LIFETIME_SECONDS}; for trials`, default: 'the minute', usedBy: RUNNING },
  { flag: 'stop-file', arg: 'PATH', doc: 'while this file exists, nothing runs', default: DEFAULT_SETTINGS.stopFile, usedBy: RUNNING },
  { flag: 'lock-dir', arg: 'PATH', doc: 'where the three lock slots live', default: DEFAULT_SETTINGS.lockDir, usedBy: RUNNING },
  { flag: 'state-dir', arg: 'PATH', doc: 'reserved for the local results journal', default: DEFAULT_SETTINGS.stateDir, usedBy: [] },
  { flag: 'statsd', arg: 'HOST:PORT', doc: 'where the word "statsd" sends', default: '127.0.0.1:8125', usedBy: RUNNING },
  { flag: 'graphite', arg: 'HOST:PORT', doc: 'where the word "graphite" sends', default: '127.0.0.1:2003', usedBy: RUNNING },
  { flag: 'prefix', arg: 'P', doc: 'metric prefix ({host} = short hostname)', default: 'canihaz', usedBy: RUNNING },
  { flag: 'statsd-prefix', arg: 'P', doc: 'StatsD prefix', default: '<prefix>', usedBy: RUNNING },
  { flag: 'graphite-prefix', arg: 'P', doc: 'Graphite prefix', default: '<prefix>.{host}', usedBy: RUNNING },
  { flag: 'max-frequency', arg: 'N', doc: 'highest executions/minute of one test', default: String(DEFAULT_SETTINGS.maxFrequency), usedBy: EVERY },
  { flag: 'max-total-rate', arg: 'N', doc: 'highest executions/minute, all tests', default: String(DEFAULT_SETTINGS.maxTotalRate), usedBy: EVERY },
  { flag: 'max-inflight', arg: 'N', doc: 'most executions in flight in one run', default: String(DEFAULT_SETTINGS.maxInflight), usedBy: RUNNING },
  { flag: 'phase', arg: 'on|off', doc: 'off = all hosts in step (fleet tests)', default: 'on', usedBy: RUNNING },
  { flag: 'strict-modes', arg: 'on|off', doc: 'refuse config files others could change', default: 'on', usedBy: EVERY },
  { flag: 'log-level', arg: 'L', doc: 'debug|info|notice|warn|error', default: DEFAULT_SETTINGS.logLevel, usedBy: RUNNING },
  { flag: 'log-format', arg: 'F', doc: 'logfmt|json', default: DEFAULT_SETTINGS.logFormat, usedBy: RUNNING },
];

/** Options that are not settings-file keys (each has its CANIHAZ_<KEY> variable all the same). */
const NOT_IN_SETTINGS_FILE = new Set(['settings', 'lifetime']);

const PARSE_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...Object.fromEntries(OPTIONS.map((o) => [o.flag, o.short ? { type: 'string', short: o.short } : { type: 'string' }])),
  help: { type: 'boolean', short: 'h' },
};

/** The help text of a command's options: those it uses, then how else to set them. */
function optionsHelp(name: CommandName): string {
  const used = OPTIONS.filter((o) => o.usedBy.includes(name));
  const left = (o: { short?: string; flag: string; arg?: string }) => `${o.short ? `-${o.short}, ` : '    '}--${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
  const leftWidth = Math.max(...OPTIONS.map((o) => left(o).length)) + 2;
  const docWidth = Math.max(...OPTIONS.map((o) => o.doc.length)) + 2;
  const lines = used.map((o) => `  ${left(o).padEnd(leftWidth)}${o.doc.padEnd(docWidth)}[${o.default}]`);
  lines.push(`  ${left({ short: 'h', flag: 'help' }).padEnd(leftWidth)}this help`);
  const exceptions = [...NOT_IN_SETTINGS_FILE].filter((f) => used.some((o) => o.flag === f)).map((f) => `--${f}`);
  const unused = OPTIONS.filter((o) => !o.usedBy.includes(name)).map((o) => `--${o.flag}`);
  return [
    'Options:',
    ...lines,
    '',
    wrap(
      `Each option can also be set as CANIHAZ_<KEY> (--max-frequency: CANIHAZ_MAX_FREQUENCY) and` +
        `${exceptions.length > 0 ? `, but for ${exceptions.join(' and ')},` : ''} in the settings file as key = value` +
        ' (max_frequency = N). Flags win over the environment, which wins over the settings file.',
    ),
    ...(unused.length > 0 ? ['', wrap(`Also accepted and checked, but not used by ${name} (one set of flags serves every command): ${unused.join(', ')}.`)] : []),
  ].join('\n');
}

/** Help text width. */
const HELP_COLUMNS = 100;

/** Wraps a paragraph at word boundaries to HELP_COLUMNS. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > HELP_COLUMNS) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}

interface Command {
  summary: string;
  /** The usage line and what the command does, for its --help. */
  usage: string;
  run(given: {
    settings: Settings;
    settingsProblems: string[];
    /** --lifetime or CANIHAZ_LIFETIME, checked; undefined: the minute. */
    lifetime: number | undefined;
    /** The command's own arguments, as given (the daemon passes them on to its children). */
    args: string[];
  }): Promise<ExitCode>;
}

const COMMANDS: Record<CommandName, Command> = {
  run: {
    summary: 'run every configured test for this minute (what cron runs every minute)',
    usage: `canihaz run [options]

Owns the wall-clock minute it starts in (or [now, now + SECONDS) with --lifetime), paces every
test's executions evenly across it, catches up after a late start, reports every execution, and
exits 0 once in-flight executions are done and metrics are flushed.`,
    async run({ settings, settingsProblems, lifetime }) {
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
      warningLogger = logger;
      for (const p of settingsProblems) logger.warn(`settings line skipped: ${p}`);
      // A limit hit (the fd limit, the connection budget) is said once, loudly, not per execution.
      onLimitHit((message, fields) => logger.error(message, fields));
      // Each command is imported only when it runs, so a copy loads no more than it needs (copies
      // that find every lock slot busy must exit fast even when fifty start at once).
      const { runCommand } = await import('./commands/run.js');
      return runCommand({
        settings,
        clock: systemClock,
        logger,
        hostname: osHostname(),
        stopSignal: stopOnSignals(),
        ...(lifetime !== undefined ? { lifetimeSeconds: lifetime } : {}),
      });
    },
  },
  daemon: {
    summary: 'run forever, starting one "canihaz run" per minute (for systemd and hosts without cron)',
    usage: `canihaz daemon [options]

Starts one "canihaz run" child at second 0 of every minute (UTC), passing on the options given
here (and its environment). The children share the lock slots, so at most three run at once.
SIGTERM or SIGINT stops scheduling, passes SIGTERM to the children, waits for them, and exits 0.
--log-level and --log-format apply to the daemon's own lines too.`,
    async run({ settings, settingsProblems, args }) {
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
      warningLogger = logger;
      for (const p of settingsProblems) logger.warn(`settings line skipped: ${p}`);
      const { daemonCommand } = await import('./commands/daemon.js');
      return daemonCommand({
        runArgs: args,
        logger,
        // Test-only: a shorter schedule (e.g. every second) so tests need not wait for minutes.
        ...(process.env.CANIHAZ_DAEMON_SCHEDULE ? { schedule: process.env.CANIHAZ_DAEMON_SCHEDULE } : {}),
      });
    },
  },
  check: {
    summary: 'validate the tests config and settings without running anything',
    usage: `canihaz check [options]

Prints every problem as FILE:LINE: field: reason. Exit 0 when clean, 1 when not, 2 when the
config cannot be read. Works as Puppet's validate_cmd and Chef's verify (any file name).`,
    async run({ settings, settingsProblems }) {
      const { checkCommand } = await import('./commands/check.js');
      return checkCommand({
        settings,
        settingsProblems,
        out: (l) => process.stdout.write(l + '\n'),
        err: (l) => process.stderr.write(l + '\n'),
      });
    },
  },
};

/**
 * Where Node's own process warnings go (a dependency's DeprecationWarning, a leak's
 * MaxListenersExceededWarning): the log, in its format, never raw text on stderr. Replaced by each
 * command's logger once the settings are known.
 */
let warningLogger: Logger = createLogger();

// Node prints each warning to stderr from its own 'warning' listener; ours replaces it. Installed
// while this module is evaluated, before any warning a dependency's import may emit is delivered.
process.removeAllListeners('warning');
process.on('warning', (warning: Error & { code?: string }) => {
  // A deprecation or an experimental feature used by a dependency is nothing an operator can act on.
  const quiet = warning.name === 'DeprecationWarning' || warning.name === 'ExperimentalWarning';
  warningLogger[quiet ? 'debug' : 'warn']('node warning', { name: warning.name, code: warning.code, warning: warning.message });
});

/**
 * SIGTERM and SIGINT take the stop-file path for this copy (abort in-flight, flush, release the
 * slot, exit 0); a second signal exits at once with 128 + the signal number.
 */
function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      stop.abort(signal);
      return;
    }
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return stop.signal;
}

/** A usage error: `<subject>: <reason>` (main adds `canihaz: ` and where help is). */
function usageError(subject: string, reason: string): CanihazError {
  return new CanihazError('E_USAGE', `${subject}: ${reason}`);
}

/** The run's lifetime in seconds from --lifetime, else CANIHAZ_LIFETIME; undefined: the minute. */
function resolveLifetime(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): number | undefined {
  const flag = typeof values.lifetime === 'string' ? values.lifetime : undefined;
  const text = flag ?? (env.CANIHAZ_LIFETIME === '' ? undefined : env.CANIHAZ_LIFETIME);
  if (text === undefined) return undefined;
  const parsed = parseLifetime(text);
  if (!parsed.ok) throw usageError(flag !== undefined ? '--lifetime' : 'CANIHAZ_LIFETIME', parsed.message);
  return parsed.seconds;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `canihaz ${version()} — capacity-test agent for fleets of servers

Usage: canihaz <command> [options]
       canihaz --help | --version

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Options:
  -h, --help      this help
  -V, --version   print the version

Run "canihaz <command> --help" for a command's options.`;
}

function commandHelp(name: CommandName): string {
  return `Usage: ${COMMANDS[name].usage}\n\n${optionsHelp(name)}`;
}

/**
 * Parses a command's arguments: options only, every string option with a value. Strictness is
 * ours rather than parseArgs' so that every message names the option in our own style.
 */
function parseCommandArgs(args: string[]): Record<string, string | boolean | undefined> {
  const { values, tokens } = parseArgs({ args, options: PARSE_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') throw usageError(quoteValue(t.value), 'unexpected argument: commands take options only');
    if (t.kind !== 'option') continue;
    const option = PARSE_OPTIONS[t.name];
    if (!option) throw usageError(t.rawName, 'unknown option');
    if (option.type === 'boolean') {
      if (t.value !== undefined) throw usageError(t.rawName, `takes no value, got ${quoteValue(t.value)}`);
      continue;
    }
    const arg = OPTIONS.find((o) => o.flag === t.name)?.arg ?? 'VALUE';
    if (t.value === undefined) throw usageError(`--${t.name}`, `needs a value, as in --${t.name} ${arg}`);
    // As parseArgs' strict mode: `--config --lifetime 5` is a forgotten value, not a path "--lifetime".
    if (!t.inlineValue && t.value.startsWith('-') && t.value !== '-') {
      throw usageError(`--${t.name}`, `needs a value, as in --${t.name} ${arg}, got the option ${quoteValue(t.value)}; write --${t.name}=VALUE for a value that starts with -`);
    }
  }
  return values;
}

/** Settings from file < environment < flags; problems in the file are returned, not thrown. */
async function loadSettings(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const flagFile = typeof values.settings === 'string' ? values.settings : undefined;
  const envFile = env.CANIHAZ_SETTINGS === '' ? undefined : env.CANIHAZ_SETTINGS;
  const file = flagFile ?? envFile ?? DEFAULT_SETTINGS.settingsFile;
  const explicit = flagFile !== undefined || envFile !== undefined;
  // The settings file's own strict_modes line cannot relax the check of that same file.
  const strictFlag = typeof values['strict-modes'] === 'string' ? values['strict-modes'] : env.CANIHAZ_STRICT_MODES;
  const read = await readSettingsFile(file, explicit, { strictModes: strictFlag !== 'off' });
  if (read.status === 'unreadable') {
    const why = read.message.startsWith(`${file}: `) ? read.message.slice(file.length + 2) : read.message;
    throw new CanihazError('E_UNREADABLE', `settings file ${file}: ${why}`);
  }
  const flags: RawSettings = {};
  for (const [flag, value] of Object.entries(values)) {
    if (typeof value !== 'string' || NOT_IN_SETTINGS_FILE.has(flag)) continue;
    flags[flag.replaceAll('-', '_') as keyof RawSettings] = value;
  }
  const resolved = resolveSettings(
    [
      { source: file, raw: read.status === 'ok' ? read.raw : {} },
      { source: 'environment', raw: settingsFromEnv(env) },
      { source: 'flags', raw: flags },
    ],
    file,
  );
  if (!resolved.ok) {
    // Every problem, one line each, naming the option as it was given.
    const lines = resolved.problems.map((p) => {
      const name =
        p.source === 'flags' ? `--${p.field.replaceAll('_', '-')}` : p.source === 'environment' ? `CANIHAZ_${p.field.toUpperCase()}` : `${p.source}: ${p.field}`;
      return `${name}: ${p.message}`;
    });
    throw new CanihazError('E_USAGE', lines.join('\n'));
  }
  return { settings: resolved.settings, problems: read.status === 'ok' ? read.errors.map(formatLineError) : [] };
}

/** Writes an error: each line `canihaz: <subject>: <reason>`, a usage error with where its help is. */
function writeError(err: CanihazError, help: string): void {
  const hint = err.code === 'E_USAGE' ? ` (see "${help}")` : '';
  for (const line of err.message.split('\n')) process.stderr.write(`canihaz: ${line}${hint}\n`);
}

/** Parses argv, runs a command, and returns the exit code; never throws. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(mainHelp() + '\n');
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(version() + '\n');
    return ExitCode.OK;
  }
  const isCommand = (n: string | undefined): n is CommandName => n !== undefined && Object.hasOwn(COMMANDS, n);
  // `canihaz help run` is `canihaz run --help`.
  if (name === 'help' && isCommand(rest[0]) && rest.length === 1) {
    process.stdout.write(commandHelp(rest[0]) + '\n');
    return ExitCode.OK;
  }
  let help = 'canihaz --help';
  try {
    if (!isCommand(name)) {
      const what = name.startsWith('-') ? 'unknown option' : `unknown command; expected one of ${Object.keys(COMMANDS).join(', ')}`;
      throw usageError(name.startsWith('-') ? name : quoteValue(name), what);
    }
    help = `canihaz ${name} --help`;
    const values = parseCommandArgs(rest);
    if (values.help) {
      process.stdout.write(commandHelp(name) + '\n');
      return ExitCode.OK;
    }
    const { settings, problems } = await loadSettings(values, env);
    // Checked by every command, as every option is: the daemon's children would each fail on it.
    const lifetime = resolveLifetime(values, env);
    return await COMMANDS[name].run({ settings, settingsProblems: problems, lifetime, args: rest });
  } catch (err) {
    if (err instanceof CanihazError) {
      writeError(err, help);
      return exitCodeFor(err.code);
    }
    process.stderr.write(`canihaz: internal error (a bug): ${(err as Error)?.stack ?? String(err)}\n`);
    return ExitCode.INTERNAL;
  }
}

// stdout and stderr may be pipes whose reader is gone (`canihaz check | head`, a `logger` that died):
// EPIPE then means nobody is listening, not a crash. The stream is destroyed, later writes to it are
// dropped (the logger checks `writable`), and the run goes on: its load and its metrics do not need
// anyone to read the log.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Longest wait at exit for stdout and stderr to drain into a slow pipe (a reader that never reads). */
const STDIO_DRAIN_DEADLINE_MS = 2_000;
const STDIO_DRAIN_POLL_MS = 10;

/**
 * Resolves once stdout and stderr have handed everything written to the OS (or are closed), or after
 * `deadlineMs`. Writes to a pipe are asynchronous when the reader is slower than the writer: exiting
 * without this loses what is still queued (the last lines of `check`, the run's summary).
 */
function drainStdio(deadlineMs: number): Promise<void> {
  const until = performance.now() + deadlineMs;
  const drained = () => [process.stdout, process.stderr].every((s) => s.destroyed || s.writableLength === 0);
  return new Promise((resolve) => {
    const poll = () => (drained() || performance.now() >= until ? resolve() : setTimeout(poll, STDIO_DRAIN_POLL_MS));
    poll();
  });
}

// Every command awaits all of its work (executions, metric flushes, the lock slot) before it
// returns; then only stdout and stderr may still hold queued lines. Exit as soon as they drain
// (bounded) rather than when the event loop empties: chokidar leaves a 1 s directory-rescan throttle
// timer running after close() (its `_throttle('readdir', dir, 1000)`, not unref'd), which held a
// stopped copy for another second whenever a file beside the config changed — the stop file, typically.
main(process.argv.slice(2)).then(
  async (code) => {
    await drainStdio(STDIO_DRAIN_DEADLINE_MS);
    process.exit(code);
  },
  () => process.exit(ExitCode.INTERNAL),
);
