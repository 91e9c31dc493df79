/**
 * The driver of a window's jobs: makes the running set equal to what `apply` is given (a runner per
 * job, runner.ts), follows the wall clock for stamps, settles executions a job left hanging, and
 * ends once the window is over and everything in flight has settled. It counts nothing: sinks do.
 */
import { setMaxListeners } from 'node:events';
import type { Cancel, Clock } from '../clock.js';
import type { MetricEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Job, Planner } from './job.js';
import { phaseFor, planTicks, type Plan } from './plan.js';
import { PendingList } from './pending.js';
import { planShape } from './shape-plan.js';
import { JobRunner, type RunnerContext, type RunningExecution } from './runner.js';

export type { Job, Planner } from './job.js';
export { END_GRACE_MS, HUNG_GRACE_MS } from './runner.js';

/** How often executions open past their job's timeout + HUNG_GRACE_MS are looked for, ms. */
const HUNG_SWEEP_MS = 1_000;

/**
 * Runners are started in slices of about this long, ms: a config of thousands of tests takes tens of
 * ms to start (2,000: ~100 ms), and ticks that fall due meanwhile would wait for all of it. Jobs are
 * started in the order of their first tick, and between slices the event loop fires what is due.
 */
export const START_SLICE_MS = 2;

/** A change of the wall clock against the monotonic one larger than this is a step, and stamps follow it (ms). */
export const WALL_STEP_MS = 100;

/** What the scheduler needs from the run around it. */
export interface SchedulerOptions<J extends Job = Job> {
  clock: Clock;
  logger: Logger;
  /** Host name that seeds each job's phase. */
  hostname: string;
  /** False puts every job on phase 0, so every host fires in step (for testing fleet alignment). Default true. */
  phase?: boolean;
  /** The window the run owns, in wall-clock epoch ms: [startWall, endWall). Paced on the monotonic clock from here on. */
  window: { startWall: number; endWall: number };
  /** Plans each flat job's ticks (a job with a `shape` is planned by shape-plan.ts). Default `planTicks`. */
  planner?: Planner;
  /** Receives every event of every job; must not block. */
  emit(job: J, event: MetricEvent): void;
  /** Most executions in flight across all jobs (agent-wide); a tick beyond it is dropped. Default: no cap. */
  maxInflight?: number;
}

/** Drives every job's plan on the clock: open model, drop-and-count, live re-planning. It counts nothing: sinks do. */
export interface Scheduler<J extends Job = Job> {
  /**
   * Makes the running set of jobs equal to `jobs`: new jobs start, removed jobs stop scheduling
   * (their in-flight executions finish), changed jobs re-plan their remaining ticks from now.
   * `catchUp` is true only for the config read at start-up.
   */
  apply(jobs: readonly J[], options: { catchUp: boolean }): void;
  /** Ends scheduling now and aborts every execution in flight (stop file, signal). */
  abort(): void;
  /** Lives the window, then resolves once no execution is in flight and every job is closed. */
  run(): Promise<void>;
  /** Executions in flight right now, across all jobs. */
  readonly inflight: number;
}

/** Creates a scheduler for one window. */
export function createScheduler<J extends Job>(options: SchedulerOptions<J>): Scheduler<J> {
  const { clock, logger } = options;
  const planner = options.planner ?? planTicks;
  const maxInflight = options.maxInflight ?? Infinity;
  // A tick's wall time is its monotonic time read through the wall clock as it is when the tick fires,
  // not through an offset fixed at start: when the wall clock is stepped during a run (NTP, an
  // operator), pacing stays on the monotonic clock and timestamps follow the wall clock. The offset is
  // re-taken only when it moved by more than WALL_STEP_MS, so the sub-millisecond jitter between the
  // two clocks' readings never reorders the stamps of close ticks.
  let wallOffset = clock.wallNow() - clock.now();
  const toWall = (mono: number) => {
    const offset = clock.wallNow() - clock.now();
    if (Math.abs(offset - wallOffset) > WALL_STEP_MS) wallOffset = offset;
    return mono + wallOffset;
  };
  // The window on the monotonic clock, converted once: pacing never reads the wall clock again. A
  // shape (in UTC) is planned with this same offset, so it lines up with the window the run owns.
  const windowOffset = wallOffset;
  const window = { start: options.window.startWall - windowOffset, end: options.window.endWall - windowOffset };
  const runners = new Map<string, JobRunner<J>>();
  /** Every job handed to `apply`, so each is closed once whether it ran, was replaced or was not taken. */
  const owned = new WeakSet<J>();
  const draining = new Set<Promise<void>>();
  const abortAll = new AbortController();
  // Every job's loop and every execution in flight listens on this one signal (thousands at once
  // with many jobs); each removes its listener when done, so the count is bounded, not a leak.
  setMaxListeners(0, abortAll.signal);
  /** Executions in flight, for the sweep that settles a job which ignores its own timeout. */
  const pending = new PendingList<RunningExecution>();
  /** Runners whose loop has not ended; abortAll stops each. */
  const looping = new Set<{ stop(): void }>();
  abortAll.signal.addEventListener('abort', () => {
    for (const runner of looping) runner.stop();
  }, { once: true });
  const slots = { inflight: 0, max: maxInflight };

  /** Settles, as timeouts, executions still open HUNG_GRACE_MS past their job's own timeout. */
  const sweepHung = async (until: AbortSignal) => {
    while (!until.aborted) {
      await clock.sleepUntil(clock.now() + HUNG_SWEEP_MS, until);
      const now = clock.now();
      pending.forEach((e) => {
        if (e.deadline > now) return;
        logger.error('probe ignored its own timeout (a bug); counted as a timeout', { test: e.test });
        e.settle({ ok: false, latencyMs: now - e.dispatched, reason: 'timeout' });
      });
    }
  };

  const closeJob = async (job: J) => {
    await job.close?.().catch((err: unknown) => logger.warn('probe close failed', { test: job.name, error: String(err) }));
  };

  const context: RunnerContext<J> = {
    clock,
    logger,
    windowEnd: window.end,
    toWall,
    emit: (job, event) => options.emit(job, event),
    abortSignal: abortAll.signal,
    slots,
    pending,
    looping,
    closeJob,
  };

  const drain = (promise: Promise<void>) => {
    const p = promise.finally(() => draining.delete(p));
    draining.add(p);
  };
  const retire = (runner: JobRunner<J>) => {
    runner.stop();
    drain(runner.finished);
  };

  /** Planned jobs whose runner is not created yet, in the order of their first tick (see START_SLICE_MS). */
  const queued = new Map<string, { job: J; plan: Plan }>();
  let nextSlice: Cancel | undefined;
  /** Starts queued jobs for about START_SLICE_MS, then lets the event loop turn before the next slice. */
  const startSlice = () => {
    nextSlice = undefined;
    const began = clock.now();
    let started = 0;
    for (const [name, { job, plan }] of queued) {
      queued.delete(name);
      runners.set(name, new JobRunner(context, job, plan));
      logger.debug('test scheduled', { test: name, frequency: job.frequency, ticks: plan.count, missed: plan.missed });
      if (++started % 16 === 0 && clock.now() - began >= START_SLICE_MS) break;
    }
    if (queued.size > 0) nextSlice = clock.soon(startSlice);
  };
  /** Closes the jobs still queued: the window ended or the run was aborted before they started. */
  const dropQueued = () => {
    nextSlice?.();
    nextSlice = undefined;
    for (const { job } of queued.values()) drain(closeJob(job));
    queued.clear();
  };

  /** Plans a job from `from`. */
  const plan = (job: J, from: number, catchUp: boolean): Plan => {
    const periodMs = job.frequency > 0 ? 60_000 / job.frequency : Infinity;
    const inStep = options.phase === false;
    const bounds = { windowStart: window.start, windowEnd: window.end, from, catchUp };
    // With phase off, hosts fire in step: even ticks on phase 0, Poisson ones seeded without the host.
    return job.shape
      ? planShape({
          ...bounds,
          wallOffsetMs: windowOffset,
          shape: job.shape,
          phase: inStep ? 0 : phaseFor(options.hostname, job.name, 1),
          key: { host: inStep ? '' : options.hostname, test: job.name },
        })
      : planner({ ...bounds, frequency: job.frequency, phaseMs: inStep ? 0 : phaseFor(options.hostname, job.name, periodMs) });
  };

  let closed = false;
  let appliedOnce = false;
  return {
    apply(jobs, { catchUp }) {
      // Jobs seen for the first time are ours to close: those not taken (the window is over, or an
      // unchanged job of the same name keeps running) are closed at once.
      const fresh = new Set(jobs.filter((job) => !owned.has(job)));
      for (const job of fresh) owned.add(job);
      const notTaken = (job: J) => drain(closeJob(job));
      if (closed) {
        fresh.forEach(notTaken);
        return;
      }
      const wanted = new Map(jobs.map((j) => [j.name, j]));
      const changed = new Set<string>();
      for (const [name, runner] of runners) {
        const next = wanted.get(name);
        if (!next || next.key !== runner.job.key) {
          runners.delete(name);
          retire(runner);
          if (next) changed.add(name);
          logger.info(next ? 'test changed' : 'test removed', { test: name });
        }
      }
      for (const [name, { job }] of queued) {
        const next = wanted.get(name);
        if (!next || next.key !== job.key) {
          // Planned but not started yet: it never runs.
          queued.delete(name);
          drain(closeJob(job));
          if (next) changed.add(name);
          logger.info(next ? 'test changed' : 'test removed', { test: name });
        }
      }
      // One `from` for every new job: plans made one by one would each start a little later.
      const from = Math.max(clock.now(), window.start);
      const planned: { job: J; plan: Plan; first: number }[] = [];
      for (const job of jobs) {
        const running = runners.get(job.name)?.job ?? queued.get(job.name)?.job;
        if (running) {
          if (running !== job && fresh.has(job)) notTaken(job);
          continue;
        }
        const p = plan(job, from, catchUp);
        planned.push({ job, plan: p, first: p.count > 0 ? p.tickAt(0) : Infinity });
        // The first apply is the run's start (its `run started` line counts the tests); after it, a
        // new test is a config change, said like a changed or removed one.
        if (appliedOnce && !changed.has(job.name)) logger.info('test added', { test: job.name, frequency: job.frequency });
      }
      appliedOnce = true;
      if (planned.length === 0) return;
      // Earliest first tick first, behind what is still queued from an earlier apply (kept in its order).
      planned.sort((a, b) => a.first - b.first);
      for (const { job, plan: p } of planned) queued.set(job.name, { job, plan: p });
      nextSlice?.();
      startSlice();
    },
    abort() {
      abortAll.abort();
      dropQueued();
    },
    async run() {
      const sweeping = new AbortController();
      const sweeper = sweepHung(sweeping.signal);
      await clock.sleepUntil(window.end, abortAll.signal);
      closed = true;
      dropQueued();
      // Every loop ends by itself after its last tick (all before the window end); then its
      // executions in flight finish or time out.
      for (const runner of runners.values()) drain(runner.finished);
      runners.clear();
      while (draining.size > 0) await Promise.all([...draining]);
      sweeping.abort();
      await sweeper;
    },
    get inflight() {
      return slots.inflight;
    },
  };
}
