import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import type { TestSpec } from '../config/tests-file.js';
import type { Logger } from '../log.js';
import type { MetricEvent } from '../metrics/sink.js';
import { createHistogram, type Histogram } from '../metrics/histogram.js';
import type { Probe, ProbeResult } from '../probes/probe.js';
import { phaseFor, planTicks, type Plan } from './plan.js';

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

/** What the scheduler needs from the run around it. */
export interface SchedulerOptions {
  clock: Clock;
  logger: Logger;
  /** Host name that seeds each test's phase. */
  hostname: string;
  /** False puts every test on phase 0, so every host fires in step (for testing fleet alignment). Default true. */
  phase?: boolean;
  /** The window the run owns, on the clock's monotonic scale: [start, end). */
  window: { start: number; end: number };
  /** Receives every event of every test; must not block. */
  emit(spec: TestSpec, event: MetricEvent): void;
  /** Most executions in flight across all tests (agent-wide); a tick beyond it is dropped. Default: no cap. */
  maxInflight?: number;
  /** A probe made (and prepared) ahead for this spec, if any; otherwise the scheduler creates one. */
  probeFor?: (spec: TestSpec) => Probe | undefined;
}

/** What happened to one test's ticks in a window. */
export interface TestCounts {
  /** Ticks the window owed the test (after live changes). */
  requested: number;
  started: number;
  ok: number;
  failed: number;
  dropped: number;
  missed: number;
  aborted: number;
}

/** End-of-run figures for one test. */
export interface TestSummary extends TestCounts {
  name: string;
  p50: number;
  p99: number;
}

/** Drives every test's plan on the clock: open model, drop-and-count, live re-planning. */
export interface Scheduler {
  /**
   * Makes the running set of tests equal to `specs`: new tests start, removed tests stop scheduling
   * (their in-flight executions finish), changed tests re-plan their remaining ticks from now.
   * `catchUp` is true only for the config read at start-up.
   */
  apply(specs: readonly TestSpec[], options: { catchUp: boolean }): void;
  /** Ends scheduling now and aborts every execution in flight (stop file, signal). */
  abort(): void;
  /** Lives the window, then resolves once no execution is in flight. */
  run(): Promise<void>;
  /** Executions in flight right now, across all tests. */
  readonly inflight: number;
  /** Per-test figures so far, in the order tests first appeared. */
  summaries(): TestSummary[];
}

interface Stats extends TestCounts {
  latency: Histogram;
}

/** Creates a scheduler for one window. */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { clock, logger, window } = options;
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
  const stats = new Map<string, Stats>();
  const runners = new Map<string, Runner>();
  const draining = new Set<Promise<void>>();
  const abortAll = new AbortController();
  // Every test's loop and every execution in flight listens on this one signal (thousands at once
  // with many tests); each removes its listener when done, so the count is bounded, not a leak.
  setMaxListeners(0, abortAll.signal);
  /** Executions in flight, for the sweep that settles a probe which ignores its own timeout. */
  const pending = new Set<Execution>();
  /** Runners whose loop has not ended; abortAll stops each. */
  const looping = new Set<{ stop(): void }>();
  abortAll.signal.addEventListener('abort', () => {
    for (const runner of looping) runner.stop();
  }, { once: true });
  let inflight = 0;

  /** Settles, as timeouts, executions still open HUNG_GRACE_MS past their probe's own timeout. */
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

  const statsFor = (name: string): Stats => {
    let s = stats.get(name);
    if (!s) {
      s = { requested: 0, started: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0, latency: createHistogram() };
      stats.set(name, s);
    }
    return s;
  };

  /** One test's loop over one plan. Replaced (not mutated) when the test changes. */
  class Runner {
    readonly spec: TestSpec;
    readonly #plan: Plan;
    readonly #probe: Probe;
    readonly #stats: Stats;
    readonly #stopLoop = new AbortController();
    #inflight = 0;
    #onIdle: (() => void) | undefined;
    readonly finished: Promise<void>;

    constructor(spec: TestSpec, plan: Plan, probe: Probe) {
      this.spec = spec;
      this.#plan = plan;
      this.#probe = probe;
      this.#stats = statsFor(spec.name);
      this.#stats.requested += plan.requested;
      if (plan.missed > 0) this.#missed(plan.missed, clock.now());
      if (abortAll.signal.aborted) this.#stopLoop.abort();
      looping.add(this);
      this.finished = this.#loop().then(() => this.#close());
    }

    stop(): void {
      this.#stopLoop.abort();
    }

    #missed(count: number, at: number): void {
      this.#stats.missed += count;
      options.emit(this.spec, { kind: 'missed', test: this.spec.name, tickWallMs: toWall(at), count });
    }

    async #loop(): Promise<void> {
      const plan = this.#plan;
      // Aborted by stop() and, through `looping`, by abortAll: one controller per loop, not an
      // AbortSignal.any per loop, which costs tens of ms at start with thousands of tests.
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
      // Ticks the window ended before (a stalled event loop) are missed; a stopped test's are not owed.
      if (i < plan.count && !signal.aborted) {
        this.#missed(plan.count - i, Math.min(clock.now(), window.end));
      } else if (i < plan.count) {
        this.#stats.requested -= plan.count - i;
      }
    }

    #fire(tick: number): void {
      const spec = this.spec;
      const tickWallMs = toWall(tick);
      if (this.#inflight >= spec.concurrency || inflight >= maxInflight) {
        this.#stats.dropped++;
        options.emit(spec, { kind: 'dropped', test: spec.name, tickWallMs });
        return;
      }
      const dispatched = clock.now();
      const lagMs = Math.max(0, dispatched - tick);
      this.#inflight++;
      inflight++;
      this.#stats.started++;
      let result: Promise<ProbeResult>;
      try {
        result = this.#probe.execute(abortAll.signal);
      } catch (err) {
        result = Promise.reject(err);
      }
      const execution: Execution = {
        test: spec.name,
        dispatched,
        deadline: dispatched + spec.timeoutMs + HUNG_GRACE_MS,
        settle: (r) => {
          if (!pending.delete(execution)) return;
          this.#settled(r, tickWallMs, lagMs);
        },
      };
      pending.add(execution);
      result
        .catch((err: unknown): ProbeResult => {
          logger.error('probe threw (a bug: probes must return results)', { test: spec.name, error: String(err) });
          return { ok: false, latencyMs: clock.now() - dispatched, reason: 'other' };
        })
        .then(execution.settle);
    }

    #settled(r: ProbeResult, tickWallMs: number, lagMs: number): void {
      const spec = this.spec;
      this.#inflight--;
      inflight--;
      if (r.reason === 'aborted') {
        this.#stats.aborted++;
        options.emit(spec, { kind: 'aborted', test: spec.name, tickWallMs, latencyMs: r.latencyMs });
      } else {
        if (r.ok) this.#stats.ok++;
        else this.#stats.failed++;
        this.#stats.latency.record(r.latencyMs);
        options.emit(spec, {
          kind: 'execution',
          test: spec.name,
          tickWallMs,
          ok: r.ok,
          ...(r.ok ? {} : { reason: r.reason ?? 'other' }),
          latencyMs: r.latencyMs,
          lagMs,
        });
      }
      if (this.#inflight === 0) this.#onIdle?.();
    }

    async #close(): Promise<void> {
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
      await this.#probe.close().catch((err: unknown) => logger.warn('probe close failed', { test: this.spec.name, error: String(err) }));
    }
  }

  const drain = (runner: Runner) => {
    const p = runner.finished.finally(() => draining.delete(p));
    draining.add(p);
  };
  const retire = (runner: Runner) => {
    runner.stop();
    drain(runner);
  };

  /** The probe of a test about to start, or undefined (logged) when it cannot be created. */
  const probeOf = (spec: TestSpec): Probe | undefined => {
    try {
      return options.probeFor?.(spec) ?? spec.probeType.create(spec.options);
    } catch (err) {
      logger.error('could not create probe', { test: spec.name, file: spec.file, line: spec.line, error: String(err) });
      return undefined;
    }
  };

  /** Plans a test from `from` and starts its loop. */
  const start = (spec: TestSpec, probe: Probe, from: number, catchUp: boolean) => {
    const periodMs = spec.frequency > 0 ? 60_000 / spec.frequency : Infinity;
    const plan = planTicks({
      windowStart: window.start,
      windowEnd: window.end,
      frequency: spec.frequency,
      phaseMs: options.phase === false ? 0 : phaseFor(options.hostname, spec.name, periodMs),
      from,
      catchUp,
    });
    runners.set(spec.name, new Runner(spec, plan, probe));
    logger.debug('test scheduled', { test: spec.name, frequency: spec.frequency, ticks: plan.count, missed: plan.missed });
  };

  let closed = false;
  let appliedOnce = false;
  return {
    apply(specs, { catchUp }) {
      if (closed) return;
      const wanted = new Map(specs.map((s) => [s.name, s]));
      const changed = new Set<string>();
      for (const [name, runner] of runners) {
        const next = wanted.get(name);
        if (!next || next.fingerprint !== runner.spec.fingerprint) {
          runners.delete(name);
          retire(runner);
          if (next) changed.add(name);
          logger.info(next ? 'test changed' : 'test removed', { test: name });
        }
      }
      // Probes first, then one `from` for every new test: creating thousands of probes takes tens of
      // ms, and plans made before it would owe ticks that could only fire, late, after it.
      const added: [TestSpec, Probe][] = [];
      for (const spec of specs) {
        if (runners.has(spec.name)) continue;
        const probe = probeOf(spec);
        if (probe) added.push([spec, probe]);
      }
      const from = Math.max(clock.now(), window.start);
      for (const [spec, probe] of added) {
        start(spec, probe, from, catchUp);
        // The first apply is the run's start (its `run started` line counts the tests); after it, a
        // new test is a config change, said like a changed or removed one.
        if (appliedOnce && !changed.has(spec.name)) logger.info('test added', { test: spec.name, frequency: spec.frequency });
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
      for (const runner of runners.values()) drain(runner);
      runners.clear();
      while (draining.size > 0) await Promise.all([...draining]);
      sweeping.abort();
      await sweeper;
    },
    get inflight() {
      return inflight;
    },
    summaries() {
      return [...stats].map(([name, { latency, ...counts }]) => ({
        name,
        ...counts,
        p50: latency.percentile(50),
        p99: latency.percentile(99),
      }));
    },
  };
}
