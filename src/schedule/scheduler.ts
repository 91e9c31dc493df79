import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import type { MetricEvent, ProbeResult } from '../events.js';
import type { Logger } from '../log.js';
import { phaseFor, planTicks, type Plan, type PlanInput } from './plan.js';

/**
 * A tick due just before the window end may wake just after it (timer granularity); it still fires
 * within this grace. A wake-up later than this starts nothing: the next minute belongs to the next copy.
 */
export const END_GRACE_MS = 50;

/**
 * A probe must settle by its own timeout. One still open this long after it is a bug; the scheduler
 * counts it as a timeout so the run still ends on time (checked every HUNG_SWEEP_MS).
 */
export const HUNG_GRACE_MS = 2_000;
const HUNG_SWEEP_MS = 1_000;

/** A change of the wall clock against the monotonic one larger than this is a step, and stamps follow it (ms). */
export const WALL_STEP_MS = 100;

/** An execution in flight. */
interface Execution {
  test: string;
  dispatched: number;
  /** When the sweep gives up on it (monotonic ms). */
  deadline: number;
  /** Records the result once; later calls do nothing. */
  settle(result: ProbeResult): void;
}

/**
 * One thing to run at a frequency: what the scheduler knows of a test. The scheduler owns every job
 * object handed to `apply` and calls its `close` exactly once.
 */
export interface Job {
  /** Changes whenever anything about how the job runs changes; a job re-applied under the same name and key is left running. */
  readonly key: string;
  /** Unique among the jobs applied together; names every event (the test name). */
  readonly name: string;
  /** Executions per minute; 0 means paused. */
  readonly frequency: number;
  /** Most executions of this job in flight at once; a tick beyond it is dropped and counted. */
  readonly concurrency: number;
  /** How long `execute` may take by its own timeout, ms; one still open HUNG_GRACE_MS later is settled as a timeout. */
  readonly timeoutMs: number;
  /** Runs one execution; must resolve (never reject) and honour `signal`, which aborts on a stop. */
  execute(signal: AbortSignal): Promise<ProbeResult>;
  /**
   * Releases what the job holds, once the scheduler is done with it (removed, replaced, the window
   * ended, or not taken) and none of its executions is in flight.
   */
  close?(): Promise<void>;
}

/** Plans one job's ticks in a window (see plan.ts: `planTicks`). */
export type Planner = (input: PlanInput) => Plan;

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
  /** Plans each job's ticks. Default `planTicks`. */
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
  // The window on the monotonic clock, converted once: pacing never reads the wall clock again.
  const window = { start: options.window.startWall - wallOffset, end: options.window.endWall - wallOffset };
  const runners = new Map<string, Runner>();
  /** Every job handed to `apply`, so each is closed once whether it ran, was replaced or was not taken. */
  const owned = new WeakSet<J>();
  const draining = new Set<Promise<void>>();
  const abortAll = new AbortController();
  // Every job's loop and every execution in flight listens on this one signal (thousands at once
  // with many jobs); each removes its listener when done, so the count is bounded, not a leak.
  setMaxListeners(0, abortAll.signal);
  /** Executions in flight, for the sweep that settles a job which ignores its own timeout. */
  const pending = new Set<Execution>();
  /** Runners whose loop has not ended; abortAll stops each. */
  const looping = new Set<{ stop(): void }>();
  abortAll.signal.addEventListener('abort', () => {
    for (const runner of looping) runner.stop();
  }, { once: true });
  let inflight = 0;

  /** Settles, as timeouts, executions still open HUNG_GRACE_MS past their job's own timeout. */
  const sweepHung = async (until: AbortSignal) => {
    while (!until.aborted) {
      await clock.sleepUntil(clock.now() + HUNG_SWEEP_MS, until);
      const now = clock.now();
      for (const e of pending) {
        if (e.deadline > now) continue;
        logger.error('probe ignored its own timeout (a bug); counted as a timeout', { test: e.test });
        e.settle({ ok: false, latencyMs: now - e.dispatched, reason: 'timeout' });
      }
    }
  };

  const closeJob = async (job: J) => {
    await job.close?.().catch((err: unknown) => logger.warn('probe close failed', { test: job.name, error: String(err) }));
  };

  /** One job's loop over one plan. Replaced (not mutated) when the job changes. */
  class Runner {
    readonly job: J;
    readonly #plan: Plan;
    readonly #stopLoop = new AbortController();
    #inflight = 0;
    #onIdle: (() => void) | undefined;
    readonly finished: Promise<void>;

    constructor(job: J, plan: Plan) {
      this.job = job;
      this.#plan = plan;
      options.emit(job, { kind: 'planned', test: job.name, tickWallMs: toWall(clock.now()), ticks: plan.requested });
      if (plan.missed > 0) this.#missed(plan.missed, clock.now());
      if (abortAll.signal.aborted) this.#stopLoop.abort();
      looping.add(this);
      this.finished = this.#loop().then(() => this.#close());
    }

    stop(): void {
      this.#stopLoop.abort();
    }

    #missed(count: number, at: number): void {
      options.emit(this.job, { kind: 'missed', test: this.job.name, tickWallMs: toWall(at), count });
    }

    async #loop(): Promise<void> {
      const plan = this.#plan;
      // Aborted by stop() and, through `looping`, by abortAll: one controller per loop, not an
      // AbortSignal.any per loop, which costs tens of ms at start with thousands of jobs.
      const signal = this.#stopLoop.signal;
      let i = 0;
      while (i < plan.count && !signal.aborted) {
        const due = plan.tickAt(i);
        if (due > clock.now()) await clock.sleepUntil(due, signal);
        if (signal.aborted) break;
        // Fire every tick that is due now; a late wake-up fires the backlog at once (open model).
        // Every tick is before the window end; a wake-up later than END_GRACE_MS past it (a stalled
        // process) starts nothing more.
        const now = clock.now();
        if (now >= window.end + END_GRACE_MS) break;
        while (i < plan.count && plan.tickAt(i) <= now) this.#fire(plan.tickAt(i++));
      }
      looping.delete(this);
      // Ticks the window ended before (a stalled event loop) are missed; a stopped job's are not owed.
      if (i < plan.count && !signal.aborted) {
        this.#missed(plan.count - i, Math.min(clock.now(), window.end));
      } else if (i < plan.count) {
        options.emit(this.job, { kind: 'planned', test: this.job.name, tickWallMs: toWall(clock.now()), ticks: -(plan.count - i) });
      }
    }

    #fire(tick: number): void {
      const job = this.job;
      const tickWallMs = toWall(tick);
      if (this.#inflight >= job.concurrency || inflight >= maxInflight) {
        options.emit(job, { kind: 'dropped', test: job.name, tickWallMs });
        return;
      }
      const dispatched = clock.now();
      const lagMs = Math.max(0, dispatched - tick);
      this.#inflight++;
      inflight++;
      let result: Promise<ProbeResult>;
      try {
        result = job.execute(abortAll.signal);
      } catch (err) {
        result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      const execution: Execution = {
        test: job.name,
        dispatched,
        deadline: dispatched + job.timeoutMs + HUNG_GRACE_MS,
        settle: (r) => {
          if (!pending.delete(execution)) return;
          this.#settled(r, tickWallMs, lagMs);
        },
      };
      pending.add(execution);
      void result
        .catch((err: unknown): ProbeResult => {
          logger.error('probe threw (a bug: probes must return results)', { test: job.name, error: String(err) });
          return { ok: false, latencyMs: clock.now() - dispatched, reason: 'other' };
        })
        .then((r) => execution.settle(r));
    }

    #settled(r: ProbeResult, tickWallMs: number, lagMs: number): void {
      const job = this.job;
      this.#inflight--;
      inflight--;
      if (r.reason === 'aborted') {
        options.emit(job, { kind: 'aborted', test: job.name, tickWallMs, latencyMs: r.latencyMs });
      } else {
        options.emit(job, {
          kind: 'execution',
          test: job.name,
          tickWallMs,
          ok: r.ok,
          ...(r.ok ? {} : { reason: r.reason ?? 'other' }),
          latencyMs: r.latencyMs,
          lagMs,
          ...(r.samples && r.samples.length > 0 ? { samples: r.samples } : {}),
        });
      }
      if (this.#inflight === 0) this.#onIdle?.();
    }

    async #close(): Promise<void> {
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
      await closeJob(this.job);
    }
  }

  const drain = (promise: Promise<void>) => {
    const p = promise.finally(() => draining.delete(p));
    draining.add(p);
  };
  const retire = (runner: Runner) => {
    runner.stop();
    drain(runner.finished);
  };

  /** Plans a job from `from` and starts its loop. */
  const start = (job: J, from: number, catchUp: boolean) => {
    const periodMs = job.frequency > 0 ? 60_000 / job.frequency : Infinity;
    const plan = planner({
      windowStart: window.start,
      windowEnd: window.end,
      frequency: job.frequency,
      phaseMs: options.phase === false ? 0 : phaseFor(options.hostname, job.name, periodMs),
      from,
      catchUp,
    });
    runners.set(job.name, new Runner(job, plan));
    logger.debug('test scheduled', { test: job.name, frequency: job.frequency, ticks: plan.count, missed: plan.missed });
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
      // One `from` for every new job: plans made one by one would each start a little later.
      const from = Math.max(clock.now(), window.start);
      for (const job of jobs) {
        const running = runners.get(job.name);
        if (running) {
          if (running.job !== job && fresh.has(job)) notTaken(job);
          continue;
        }
        start(job, from, catchUp);
        // The first apply is the run's start (its `run started` line counts the tests); after it, a
        // new test is a config change, said like a changed or removed one.
        if (appliedOnce && !changed.has(job.name)) logger.info('test added', { test: job.name, frequency: job.frequency });
      }
      appliedOnce = true;
    },
    abort() {
      abortAll.abort();
    },
    async run() {
      const sweeping = new AbortController();
      const sweeper = sweepHung(sweeping.signal);
      await clock.sleepUntil(window.end, abortAll.signal);
      closed = true;
      // Every loop ends by itself after its last tick (all before the window end); then its
      // executions in flight finish or time out.
      for (const runner of runners.values()) drain(runner.finished);
      runners.clear();
      while (draining.size > 0) await Promise.all([...draining]);
      sweeping.abort();
      await sweeper;
    },
    get inflight() {
      return inflight;
    },
  };
}
