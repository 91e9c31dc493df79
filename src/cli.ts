#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { parseCommandArgs, usageError, type CommandArgs } from './cli/args.js';
import { commandHelp, mainHelp } from './cli/help.js';
import { REPORT_OPTIONS, reportQuery } from './commands/report-args.js';
import { DASHBOARD_OPTIONS, dashboardListen } from './commands/dashboard-args.js';
import { REPLAY_OPTIONS, replayQuery } from './commands/replay-args.js';
import { systemClock } from './clock.js';
import { onStopSignals } from './control/signals.js';
import { quoteValue } from './redact.js';
import { envOf, flagOf, loadSettings, type CommandName, type RawSettings, type Settings, type SettingsProblem } from './config/settings.js';
import { CanihazError, ExitCode, exitCodeFor } from './errors.js';
import { onLimitHit } from './limits.js';
import { createLogger, type Logger } from './log.js';

/** What a command is given once its settings are loaded. */
interface CommandInput {
  settings: Settings;
  settingsProblems: string[];
  /** --lifetime or CANIHAZ_LIFETIME, checked; undefined: the minute. */
  lifetime: number | undefined;
  /** The command's own arguments, as given (the daemon passes them on to its children). */
  args: string[];
  /** The values of the command's own options (report's), parsed. */
  own: CommandArgs['own'];
}

/** Each command's wiring; what it is and its options are in its help (cli/help.ts). */
const COMMANDS: Record<CommandName, (given: CommandInput) => Promise<ExitCode>> = {
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
  async daemon({ settings, settingsProblems, args }) {
    const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
    warningLogger = logger;
    for (const p of settingsProblems) logger.warn(`settings line skipped: ${p}`);
    const { daemonCommand } = await import('./commands/daemon.js');
    return daemonCommand({
      runArgs: args,
      logger,
      clock: systemClock,
      // Test-only: a shorter schedule (e.g. every second) so tests need not wait for minutes.
      ...(process.env.CANIHAZ_DAEMON_SCHEDULE ? { schedule: process.env.CANIHAZ_DAEMON_SCHEDULE } : {}),
    });
  },
  async check({ settings, settingsProblems }) {
    const { checkCommand } = await import('./commands/check.js');
    return checkCommand({
      settings,
      settingsProblems,
      out: (l) => process.stdout.write(l + '\n'),
      err: (l) => process.stderr.write(l + '\n'),
      clock: systemClock,
    });
  },
  async report({ settings, own }) {
    const query = reportQuery(own, systemClock.wallNow());
    const { reportCommand } = await import('./commands/report.js');
    return reportCommand({
      stateDir: settings.stateDir,
      from: query.from,
      to: query.to,
      tests: query.tests,
      format: query.format,
      clock: systemClock,
      out: (l) => process.stdout.write(l + '\n'),
      err: (l) => process.stderr.write(l + '\n'),
    });
  },
  async dashboard({ settings, settingsProblems, own }) {
    const listen = dashboardListen(own);
    const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
    warningLogger = logger;
    for (const p of settingsProblems) logger.warn(`settings line skipped: ${p}`);
    const { dashboardCommand } = await import('./commands/dashboard.js');
    return dashboardCommand({ stateDir: settings.stateDir, listen, logger, stopSignal: stopOnSignals(), clock: systemClock });
  },
  async replay({ settings, own }) {
    const query = replayQuery(own, systemClock.wallNow(), settings.destinationDefaults);
    const { replayCommand } = await import('./commands/replay.js');
    return replayCommand({
      ...query,
      stateDir: settings.stateDir,
      graphitePrefix: settings.graphitePrefix,
      hostname: osHostname(),
      clock: systemClock,
      out: (l) => process.stdout.write(l + '\n'),
      err: (l) => process.stderr.write(l + '\n'),
    });
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
  onStopSignals(onSignal);
  return stop.signal;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Settings from file < environment < flags; every bad value at once, as a usage error naming it as given. */
async function settingsFor(flags: RawSettings, env: NodeJS.ProcessEnv): Promise<Omit<CommandInput, 'args' | 'own'>> {
  const loaded = await loadSettings(env, flags);
  if (loaded.status === 'unreadable') throw new CanihazError('E_UNREADABLE', `settings file ${loaded.file}: ${loaded.message}`);
  if (loaded.status === 'invalid') {
    const name = (p: SettingsProblem) => (p.source === 'flags' ? `--${flagOf(p.field)}` : p.source === 'environment' ? envOf(p.field) : `${p.source}: ${p.field}`);
    throw new CanihazError('E_USAGE', loaded.problems.map((p) => `${name(p)}: ${p.message}`).join('\n'));
  }
  // The tests file's module (and zod with it) only when there is a bad line to show.
  const settingsProblems = loaded.lineErrors.length === 0 ? [] : loaded.lineErrors.map((await import('./config/tests-file.js')).formatLineError);
  return { settings: loaded.settings, settingsProblems, lifetime: loaded.lifetimeSeconds };
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
    process.stdout.write(mainHelp(version()) + '\n');
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
    const { flags, help: wantsHelp, own } = parseCommandArgs(rest, name === 'report' ? REPORT_OPTIONS : name === 'dashboard' ? DASHBOARD_OPTIONS : name === 'replay' ? REPLAY_OPTIONS : {});
    if (wantsHelp) {
      process.stdout.write(commandHelp(name) + '\n');
      return ExitCode.OK;
    }
    // Every setting is checked by every command (--lifetime too): the daemon's children would each fail on it.
    return await COMMANDS[name]({ ...(await settingsFor(flags, env)), args: rest, own });
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
  // The system clock, not a command's: this runs after every command has returned, on real time.
  const until = systemClock.now() + deadlineMs;
  const drained = () => [process.stdout, process.stderr].every((s) => s.destroyed || s.writableLength === 0);
  return new Promise((resolve) => {
    const poll = () => (drained() || systemClock.now() >= until ? resolve() : systemClock.after(STDIO_DRAIN_POLL_MS, poll));
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
