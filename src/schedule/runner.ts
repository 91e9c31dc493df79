/**
 * One job's loop over one plan: it sleeps until each tick, fires what is due (dropping a tick beyond
 * the job's or the agent's in-flight cap), turns each result into an event, and closes the job once
 * its loop has ended and its executions have settled. The scheduler (scheduler.ts) makes one per job
 * and replaces it, never mutates it, when the job changes.
 */
import type { Clock } from '../clock.js';
import type { MetricEvent, ProbeResult } from '../events.js';
import type { Logger } from '../log.js';
import type { Job } from './job.js';
import { PendingEntry, type PendingList } from './pending.js';
import type { Plan } from './plan.js';

type ExecutionEvent = Extract<MetricEvent, { kind: 'execution' }>;

/**
 * A tick due just before the window end may wake just after it (timer granularity); it still fires
 * within this grace. A wake-up later than this starts nothing: the next minute belongs to the next copy.
 */
export const END_GRACE_MS = 50;

/**
 * A probe must settle by its own timeout. One still open this long after it is a bug; the scheduler
 * counts it as a timeout so the run still ends on time.
 */
export const HUNG_GRACE_MS = 2_000;

/** An execution in flight. */
export interface Execution {
  test: string;
  dispatched: number;
  /** When the sweep gives up on it (monotonic ms). */
  deadline: number;
  /** Records the result once; later calls do nothing. */
  settle(result: ProbeResult): void;
}

/** The agent-wide count of executions in flight and its cap, shared by every runner of a scheduler. */
export interface InflightSlots {
  inflight: number;
  readonly max: number;
}

/** What a runner shares with the scheduler that made it. */
export interface RunnerContext<J extends Job> {
  clock: Clock;
  logger: Logger;
  /** The window's end on the monotonic clock. */
  windowEnd: number;
  /** A monotonic time as a wall-clock stamp (see the scheduler's `toWall`). */
  toWall(mono: number): number;
  emit(job: J, event: MetricEvent): void;
  /** Aborts every execution in flight (a stop), and every loop through `looping`. */
  abortSignal: AbortSignal;
  slots: InflightSlots;
  /** Executions in flight, for the sweep that settles a job which ignores its own timeout. */
  pending: PendingList<RunningExecution>;
  /** Runners whose loop has not ended; a stop stops each. */
  looping: Set<{ stop(): void }>;
  /** Closes a job, a failure logged. */
  closeJob(job: J): Promise<void>;
}

/** An execution in flight: what the sweep reads, and what its event needs once it settles. */
export class RunningExecution extends PendingEntry implements Execution {
  readonly #pending: PendingList<RunningExecution>;
  readonly #onSettled: (e: RunningExecution, result: ProbeResult) => void;

  constructor(
    pending: PendingList<RunningExecution>,
    onSettled: (e: RunningExecution, result: ProbeResult) => void,
    readonly test: string,
    readonly dispatched: number,
    readonly deadline: number,
    readonly tickWallMs: number,
    readonly lagMs: number,
  ) {
    super();
    this.#pending = pending;
    this.#onSettled = onSettled;
  }

  settle(result: ProbeResult): void {
    if (this.#pending.remove(this)) this.#onSettled(this, result);
  }
}

/** One job's loop over one plan. */
export class JobRunner<J extends Job> {
  readonly job: J;
  readonly #ctx: RunnerContext<J>;
  readonly #plan: Plan;
  readonly #stopLoop = new AbortController();
  /** Ends the loop's current sleep early (set while it sleeps). */
  #wake: (() => void) | undefined;
  #inflight = 0;
  #onIdle: (() => void) | undefined;
  /** Resolves once the loop has ended, its executions have settled and the job is closed. */
  readonly finished: Promise<void>;

  constructor(ctx: RunnerContext<J>, job: J, plan: Plan) {
    this.#ctx = ctx;
    this.job = job;
    this.#plan = plan;
    const { clock } = ctx;
    ctx.emit(job, { kind: 'planned', test: job.name, tickWallMs: ctx.toWall(clock.now()), ticks: plan.requested });
    if (plan.missed > 0) this.#missed(plan.missed, clock.now());
    if (ctx.abortSignal.aborted) this.#stopLoop.abort();
    ctx.looping.add(this);
    this.finished = this.#loop().then(() => this.#close());
  }

  /** Ends the loop; executions in flight finish. */
  stop(): void {
    this.#stopLoop.abort();
    this.#wake?.();
  }

  #missed(count: number, at: number): void {
    this.#ctx.emit(this.job, { kind: 'missed', test: this.job.name, tickWallMs: this.#ctx.toWall(at), count });
  }

  async #loop(): Promise<void> {
    const { clock, windowEnd } = this.#ctx;
    const plan = this.#plan;
    // Aborted by stop() and, through `looping`, by the scheduler's abort: one controller per loop,
    // not an AbortSignal.any per loop, which costs tens of ms at start with thousands of jobs.
    const signal = this.#stopLoop.signal;
    let i = 0;
    while (i < plan.count && !signal.aborted) {
      const due = plan.tickAt(i);
      if (due > clock.now()) await this.#sleepUntil(due);
      if (signal.aborted) break;
      // Fire every tick that is due now; a late wake-up fires the backlog at once (open model).
      // Every tick is before the window end; a wake-up later than END_GRACE_MS past it (a stalled
      // process) starts nothing more.
      const now = clock.now();
      if (now >= windowEnd + END_GRACE_MS) break;
      while (i < plan.count && plan.tickAt(i) <= now) this.#fire(plan.tickAt(i++));
    }
    this.#ctx.looping.delete(this);
    // Ticks the window ended before (a stalled event loop) are missed; a stopped job's are not owed.
    if (i < plan.count && !signal.aborted) {
      this.#missed(plan.count - i, Math.min(clock.now(), windowEnd));
    } else if (i < plan.count) {
      this.#ctx.emit(this.job, { kind: 'planned', test: this.job.name, tickWallMs: this.#ctx.toWall(clock.now()), ticks: -(plan.count - i) });
    }
  }

  /**
   * Sleeps until `due`, or until `stop()`. One timer per tick and no abort listener: a listener added and removed on the
   * loop's signal for every tick cost more than the timer.
   */
  #sleepUntil(due: number): Promise<void> {
    const { clock } = this.#ctx;
    return new Promise<void>((resolve) => {
      const cancel = clock.after(due - clock.now(), () => {
        this.#wake = undefined;
        resolve();
      });
      this.#wake = () => {
        this.#wake = undefined;
        cancel();
        resolve();
      };
    });
  }

  #fire(tick: number): void {
    const { clock, logger, slots, pending } = this.#ctx;
    const job = this.job;
    const tickWallMs = this.#ctx.toWall(tick);
    if (this.#inflight >= job.concurrency || slots.inflight >= slots.max) {
      this.#ctx.emit(job, { kind: 'dropped', test: job.name, tickWallMs });
      return;
    }
    const dispatched = clock.now();
    const lagMs = Math.max(0, dispatched - tick);
    this.#inflight++;
    slots.inflight++;
    let result: Promise<ProbeResult>;
    try {
      result = job.execute(this.#ctx.abortSignal);
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const execution = new RunningExecution(pending, this.#onSettled, job.name, dispatched, dispatched + job.timeoutMs + HUNG_GRACE_MS, tickWallMs, lagMs);
    pending.add(execution);
    void result.then(
      (r) => execution.settle(r),
      (err: unknown) => {
        logger.error('probe threw (a bug: probes must return results)', { test: job.name, error: String(err) });
        execution.settle({ ok: false, latencyMs: clock.now() - dispatched, reason: 'other' });
      },
    );
  }

  readonly #onSettled = (e: RunningExecution, r: ProbeResult): void => this.#settled(r, e.tickWallMs, e.lagMs);

  #settled(r: ProbeResult, tickWallMs: number, lagMs: number): void {
    const job = this.job;
    this.#inflight--;
    this.#ctx.slots.inflight--;
    if (r.reason === 'aborted') {
      this.#ctx.emit(job, { kind: 'aborted', test: job.name, tickWallMs, latencyMs: r.latencyMs });
    } else {
      // Built without object spreads (a copy per event): the same fields in the same order.
      const event: ExecutionEvent = r.ok
        ? { kind: 'execution', test: job.name, tickWallMs, ok: true, latencyMs: r.latencyMs, lagMs }
        : { kind: 'execution', test: job.name, tickWallMs, ok: false, reason: r.reason ?? 'other', latencyMs: r.latencyMs, lagMs };
      if (r.samples && r.samples.length > 0) event.samples = r.samples;
      this.#ctx.emit(job, event);
    }
    if (this.#inflight === 0) this.#onIdle?.();
  }

  async #close(): Promise<void> {
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
    await this.#ctx.closeJob(this.job);
  }
}
