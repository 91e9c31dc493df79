import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import cron from 'node-cron';
import { withDeadline, type Clock } from '../clock.js';
import { onStopSignals } from '../control/signals.js';
import { CanihazError, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';

/** Second 0 of every minute (six fields, seconds first; evaluated in UTC). */
export const DEFAULT_DAEMON_SCHEDULE = '0 * * * * *';
/** How long a stopping daemon waits for its runs before SIGKILL: one run's minute plus its flush. */
export const DEFAULT_STOP_TIMEOUT_MS = 65_000;

/** Everything `canihaz daemon` needs. */
export interface DaemonOptions {
  /** Arguments forwarded to each `canihaz run` child, e.g. `['--config', '/x']`. */
  runArgs: string[];
  logger: Logger;
  /** Times the wait for the runs at stop. */
  clock: Clock;
  /**
   * When to start a run: a node-cron expression (six fields with seconds), in UTC. Default
   * `DEFAULT_DAEMON_SCHEDULE`. Test-only: cli.ts reads `CANIHAZ_DAEMON_SCHEDULE` into this so integration
   * tests can tick every second; production always uses the default.
   */
  schedule?: string;
  /** The CLI each child runs. Default: the compiled `dist/cli.js` next to this module. */
  cliPath?: string;
  /** How long to wait for runs after SIGTERM before killing them. Default `DEFAULT_STOP_TIMEOUT_MS`. */
  stopTimeoutMs?: number;
  /** Stops the daemon like SIGTERM does (for callers that embed it). */
  signal?: AbortSignal;
}

/**
 * Starts one `canihaz run` child per schedule tick until SIGTERM/SIGINT (or `signal`), then forwards SIGTERM
 * to the live children and waits for them (SIGKILL after `stopTimeoutMs`). The children share the lock
 * slots, so at most three run at once however slow they are; a child that fails is logged and the daemon
 * keeps going. Further signals while stopping change nothing: one signal often arrives twice (`timeout`
 * and process-group kills deliver it to the daemon directly and through its group).
 */
export async function daemonCommand(options: DaemonOptions): Promise<ExitCode> {
  const { logger, runArgs } = options;
  const schedule = options.schedule ?? DEFAULT_DAEMON_SCHEDULE;
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const cliPath = options.cliPath ?? fileURLToPath(new URL('../cli.js', import.meta.url));
  // The one way to set a schedule from outside is the test-only CANIHAZ_DAEMON_SCHEDULE (see cli.ts).
  if (!cron.validate(schedule)) {
    throw new CanihazError('E_USAGE', `CANIHAZ_DAEMON_SCHEDULE: expected a cron expression of six fields (seconds first), got ${JSON.stringify(schedule)}`);
  }
  if (!(stopTimeoutMs >= 0)) throw new RangeError(`Expected \`stopTimeoutMs\` to be >= 0, got ${stopTimeoutMs}`);

  /** Live children, each with a promise that settles when it is gone. */
  const children = new Map<ChildProcess, Promise<void>>();
  let stopping = false;

  const startRun = (tick: Date) => {
    if (stopping) return;
    let child: ChildProcess;
    try {
      // detached: each run in its own process group, so a signal to the daemon's group (Ctrl-C, `timeout`,
      // `kill -- -PGID`) reaches the runs once, forwarded by us, not twice. If the daemon itself is
      // SIGKILLed its runs live on until their minute ends (under systemd, the cgroup kill ends them).
      child = spawn(process.execPath, [cliPath, 'run', ...runArgs], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    } catch (err) {
      logger.error('cannot start run', { error: (err as Error)?.message ?? String(err) });
      return;
    }
    const gone = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        const fields = { pid: child.pid, code, signal, running: children.size };
        if (code === 0) logger.notice('run exited', fields);
        else logger.warn('run exited', fields);
        resolve();
      });
      child.on('error', (err) => {
        // A spawn failure has no pid and no 'exit'; a failed kill() of a live child changes nothing.
        if (child.pid !== undefined) return;
        children.delete(child);
        logger.warn('cannot start run', { error: err.message, running: children.size });
        resolve();
      });
    });
    children.set(child, gone);
    logger.debug('run started', { pid: child.pid, tick: tick.toISOString(), running: children.size });
  };

  const task = cron.schedule(schedule, (ctx) => startRun(ctx.date), {
    timezone: 'UTC',
    name: 'canihaz-run',
    logger: {
      info: (m) => logger.debug(`node-cron: ${m}`),
      warn: (m) => logger.warn(`node-cron: ${m}`),
      error: (m, e) => logger.error(`node-cron: ${m instanceof Error ? m.message : m}`, { error: e?.message }),
      debug: (m) => logger.debug(`node-cron: ${m instanceof Error ? m.message : m}`),
    },
  });
  task.on('execution:missed', (ctx) => logger.warn('tick missed: the daemon was blocked or asleep', { tick: ctx.date.toISOString() }));

  let stopRequested!: (why: string) => void;
  const stopReason = new Promise<string>((resolve) => (stopRequested = resolve));
  const requestStop = (why: string) => {
    if (stopping) return logger.debug('already stopping: ignored', { reason: why });
    stopping = true;
    stopRequested(why);
  };
  const offSignals = onStopSignals((name) => requestStop(name));
  const onAbort = () => requestStop('abort');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  logger.notice('daemon started', { schedule, timezone: 'UTC', cli: cliPath, next_run: task.getNextRun()?.toISOString() });
  try {
    const why = await stopReason;
    await task.destroy();
    logger.notice('daemon stopping', { reason: why, running: children.size, timeout_ms: stopTimeoutMs });
    for (const child of children.keys()) child.kill('SIGTERM');

    await withDeadline(options.clock, Promise.all(children.values()), stopTimeoutMs);
    if (children.size > 0) {
      logger.warn('runs still alive: killing them', { running: children.size, pids: [...children.keys()].map((c) => c.pid).join(',') });
      for (const child of children.keys()) child.kill('SIGKILL');
      await Promise.all(children.values());
    }
    logger.notice('daemon stopped');
    return ExitCode.OK;
  } finally {
    offSignals();
    options.signal?.removeEventListener('abort', onAbort);
  }
}
