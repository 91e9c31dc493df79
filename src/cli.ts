#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { systemClock } from './clock.js';
import { formatLineError } from './config/tests-file.js';
import { DEFAULT_SETTINGS, readSettingsFile, resolveSettings, settingsFromEnv, type RawSettings, type Settings } from './config/settings.js';
import { CanihazError, ExitCode, exitCodeFor } from './errors.js';
import { onLimitHit } from './limits.js';
import { createLogger } from './log.js';

const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  settings: { type: 'string' },
  'stop-file': { type: 'string' },
  'lock-dir': { type: 'string' },
  'state-dir': { type: 'string' },
  statsd: { type: 'string' },
  graphite: { type: 'string' },
  prefix: { type: 'string' },
  'statsd-prefix': { type: 'string' },
  'graphite-prefix': { type: 'string' },
  'max-frequency': { type: 'string' },
  'max-total-rate': { type: 'string' },
  'max-inflight': { type: 'string' },
  phase: { type: 'string' },
  'strict-modes': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const COMMON_HELP = `Options (each also settable in the settings file as key = value, or as CANIHAZ_<KEY>):
  -c, --config PATH          tests file, or directory of *.conf files   [${DEFAULT_SETTINGS.config}]
      --settings PATH        agent settings file                       [${DEFAULT_SETTINGS.settingsFile}]
      --stop-file PATH       while this file exists, nothing runs      [${DEFAULT_SETTINGS.stopFile}]
      --lock-dir PATH        where the three lock slots live           [${DEFAULT_SETTINGS.lockDir}]
      --statsd HOST:PORT     where the word "statsd" sends             [127.0.0.1:8125]
      --graphite HOST:PORT   where the word "graphite" sends           [127.0.0.1:2003]
      --prefix P             metric prefix ({host} = short hostname)   [canihaz]
      --statsd-prefix P      StatsD prefix                             [<prefix>]
      --graphite-prefix P    Graphite prefix                           [<prefix>.{host}]
      --max-frequency N      highest executions/minute of one test     [${DEFAULT_SETTINGS.maxFrequency}]
      --max-total-rate N     highest executions/minute, all tests      [${DEFAULT_SETTINGS.maxTotalRate}]
      --max-inflight N       most executions in flight in one run      [${DEFAULT_SETTINGS.maxInflight}]
      --phase on|off         off = all hosts in step (fleet tests)     [on]
      --strict-modes on|off  refuse config files others could change   [on]
      --log-level L          debug|info|notice|warn|error              [${DEFAULT_SETTINGS.logLevel}]
      --log-format F         logfmt|json                               [${DEFAULT_SETTINGS.logFormat}]
  -h, --help                 this help`;

interface Command {
  summary: string;
  usage: string;
  options: ParseArgsConfig['options'];
  run(
    values: Record<string, string | boolean | undefined>,
    settings: Settings,
    settingsProblems: string[],
    /** The command's own arguments, as given (the daemon passes them on to its children). */
    args: string[],
  ): Promise<ExitCode>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'run every configured test for this minute (what cron runs every minute)',
    usage: `canihaz run [--config PATH] [--lifetime SECONDS] [options]

Owns the wall-clock minute it starts in (or [now, now + SECONDS) with --lifetime), paces every
test's executions evenly across it, catches up after a late start, reports every execution, and
exits 0 once in-flight executions are done and metrics are flushed.

      --lifetime SECONDS     own [now, now + SECONDS) instead of the minute (1-60); for trials`,
    options: { lifetime: { type: 'string' } },
    async run(values, settings, settingsProblems) {
      const lifetime = values.lifetime === undefined ? undefined : parseLifetime(String(values.lifetime));
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
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
here. The children share the lock slots, so at most three run at once. SIGTERM or SIGINT stops
scheduling, passes SIGTERM to the children, waits for them, and exits 0.`,
    options: {},
    async run(_values, settings, settingsProblems, rest) {
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
      for (const p of settingsProblems) logger.warn(`settings line skipped: ${p}`);
      const { daemonCommand } = await import('./commands/daemon.js');
      return daemonCommand({
        runArgs: rest,
        logger,
        // Test-only: a shorter schedule (e.g. every second) so tests need not wait for minutes.
        ...(process.env.CANIHAZ_DAEMON_SCHEDULE ? { schedule: process.env.CANIHAZ_DAEMON_SCHEDULE } : {}),
      });
    },
  },
  check: {
    summary: 'validate the tests config and settings without running anything',
    usage: `canihaz check [--config PATH] [options]

Prints every problem as FILE:LINE: field: reason. Exit 0 when clean, 1 when not, 2 when the
config cannot be read. Works as Puppet's validate_cmd and Chef's verify (any file name).`,
    options: {},
    async run(_values, settings, settingsProblems) {
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

function parseLifetime(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 60) {
    throw new CanihazError('E_USAGE', `Expected \`--lifetime\` to be a whole number of seconds from 1 to 60, got "${text}"`);
  }
  return Number(text);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `canihaz ${version()} — capacity-test agent for fleets of servers

Usage: canihaz <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Run "canihaz <command> --help" for a command's options.
  -V, --version   print the version`;
}

/** Settings from file < environment < flags; problems in the file are returned, not thrown. */
async function loadSettings(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const flagFile = typeof values.settings === 'string' ? values.settings : undefined;
  const file = flagFile ?? env.CANIHAZ_SETTINGS ?? DEFAULT_SETTINGS.settingsFile;
  const explicit = flagFile !== undefined || env.CANIHAZ_SETTINGS !== undefined;
  // The settings file's own strict_modes line cannot relax the check of that same file.
  const strictFlag = typeof values['strict-modes'] === 'string' ? values['strict-modes'] : env.CANIHAZ_STRICT_MODES;
  const read = await readSettingsFile(file, explicit, { strictModes: strictFlag !== 'off' });
  if (read.status === 'unreadable') throw new CanihazError('E_UNREADABLE', `cannot read settings: ${read.message}`);
  const flags: RawSettings = {};
  for (const [flag, value] of Object.entries(values)) {
    if (typeof value !== 'string' || flag === 'settings' || flag === 'lifetime') continue;
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
    const p = resolved.problems[0]!;
    const name = p.source === 'flags' ? `--${p.field.replaceAll('_', '-')}` : p.source === 'environment' ? `CANIHAZ_${p.field.toUpperCase()}` : p.field;
    throw new CanihazError('E_USAGE', `Expected \`${name}\` to be valid: ${p.message}`);
  }
  return { settings: resolved.settings, problems: read.status === 'ok' ? read.errors.map(formatLineError) : [] };
}

/** Parses argv, runs a command, and returns the exit code; never throws. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(version() + '\n');
    return ExitCode.OK;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new CanihazError('E_USAGE', `unknown command "${name}"; expected one of ${Object.keys(COMMANDS).join(', ')}`);
    let values;
    try {
      ({ values } = parseArgs({ args: rest, options: { ...COMMON_OPTIONS, ...command.options }, strict: true, allowPositionals: false }));
    } catch (err) {
      throw new CanihazError('E_USAGE', (err as Error).message);
    }
    if (values.help) {
      process.stdout.write(`Usage: ${command.usage}\n\n${COMMON_HELP}\n`);
      return ExitCode.OK;
    }
    const { settings, problems } = await loadSettings(values, env);
    return await command.run(values, settings, problems, rest);
  } catch (err) {
    if (err instanceof CanihazError) {
      process.stderr.write(`canihaz: ${err.message}\n`);
      if (err.code === 'E_USAGE') process.stderr.write(`Run "canihaz ${command ? name + ' ' : ''}--help" for usage.\n`);
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
