/**
 * Aggregation of events into fixed wall-clock intervals, shared by the Graphite and console sinks.
 * An event is filed under the interval of its scheduled tick, not of its completion, so a late
 * completion makes an interval that was already taken dirty again and it is taken once more with
 * its final figures.
 */
import type { Clock } from '../clock.js';
import { createHistogram, type Histogram } from './histogram.js';
import type { AgentCounter, MetricEvent } from './sink.js';

/** Default length of an interval, ms. */
export const DEFAULT_INTERVAL_MS = 10_000;
/** Default time a taken interval is kept, behind the newest event, for late completions, ms. */
export const DEFAULT_RETAIN_MS = 180_000;

/** Latency figures of one interval, ms. */
export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** One test's figures for one interval. */
export interface IntervalSnapshot {
  test: string;
  /** Interval start, epoch ms (a multiple of the interval length). */
  startWallMs: number;
  /** Executions that completed: ok + failed. */
  count: number;
  ok: number;
  failed: number;
  dropped: number;
  /** Sum of the `count` of missed events. */
  missed: number;
  aborted: number;
  /** Latency of the ok and failed executions; null when `count` is 0. */
  latency: LatencySummary | null;
}

/** One agent-level counter's total for one interval. */
export interface AgentIntervalSnapshot {
  name: string;
  startWallMs: number;
  value: number;
}

export interface IntervalAggregatorOptions {
  /** Interval length, ms; a positive integer. Default `DEFAULT_INTERVAL_MS`. */
  intervalMs?: number;
  /**
   * How long a taken interval is kept behind the newest event, so a late completion can update it,
   * ms. Default `DEFAULT_RETAIN_MS`. Events for an interval already forgotten are discarded and
   * counted in `lateDiscarded` (re-sending a partial figure would overwrite the full one).
   */
  retainMs?: number;
}

/** Per-(test, interval) counters with bounded memory. Pure: no timers, no I/O. */
export interface IntervalAggregator {
  readonly intervalMs: number;
  /** Files one event under `floor(tickWallMs / intervalMs) * intervalMs`. */
  add(event: MetricEvent): void;
  /** Files one agent-level counter under the interval holding `wallMs`. */
  addAgent(counter: AgentCounter, wallMs: number): void;
  /**
   * Returns the test intervals changed since they were last taken whose start is before
   * `beforeWallMs` (all of them when omitted), oldest first, and marks them clean.
   */
  takeDirty(beforeWallMs?: number): IntervalSnapshot[];
  /** Same as `takeDirty`, for agent-level counters. */
  takeDirtyAgent(beforeWallMs?: number): AgentIntervalSnapshot[];
  /** Intervals held right now (test and agent). */
  readonly size: number;
  /** Events discarded because their interval had already been forgotten. */
  readonly lateDiscarded: number;
}

interface TestInterval {
  ok: number;
  failed: number;
  dropped: number;
  missed: number;
  aborted: number;
  latency: Histogram;
}

/** Creates an empty aggregator. Throws on invalid options. */
export function createIntervalAggregator(options: IntervalAggregatorOptions = {}): IntervalAggregator {
  const intervalMs = positiveInteger('intervalMs', options.intervalMs ?? DEFAULT_INTERVAL_MS);
  const retainMs = nonNegative('retainMs', options.retainMs ?? DEFAULT_RETAIN_MS);
  let newestWallMs = -Infinity;
  const startOf = (wallMs: number) => Math.floor(wallMs / intervalMs) * intervalMs;
  const tests = new IntervalTable<TestInterval>(() => ({
    ok: 0,
    failed: 0,
    dropped: 0,
    missed: 0,
    aborted: 0,
    latency: createHistogram(),
  }));
  const agent = new IntervalTable<{ value: number }>(() => ({ value: 0 }));
  const forgetBefore = () => newestWallMs - retainMs;

  return {
    intervalMs,
    add(event) {
      if (!Number.isFinite(event.tickWallMs)) return;
      newestWallMs = Math.max(newestWallMs, event.tickWallMs);
      const s = tests.touch(event.test, startOf(event.tickWallMs));
      if (!s) return;
      switch (event.kind) {
        case 'execution':
          if (event.ok) s.ok += 1;
          else s.failed += 1;
          s.latency.record(event.latencyMs);
          break;
        case 'dropped':
          s.dropped += 1;
          break;
        case 'missed':
          s.missed += event.count;
          break;
        case 'aborted':
          s.aborted += 1;
          break;
      }
    },
    addAgent(counter, wallMs) {
      if (!Number.isFinite(wallMs)) return;
      newestWallMs = Math.max(newestWallMs, wallMs);
      const s = agent.touch(counter.name, startOf(wallMs));
      if (s) s.value += counter.value;
    },
    takeDirty(beforeWallMs = Infinity) {
      return tests.take(beforeWallMs, forgetBefore(), (test, startWallMs, s): IntervalSnapshot => {
        const count = s.ok + s.failed;
        const h = s.latency;
        return {
          test,
          startWallMs,
          count,
          ok: s.ok,
          failed: s.failed,
          dropped: s.dropped,
          missed: s.missed,
          aborted: s.aborted,
          latency:
            count === 0
              ? null
              : { mean: h.mean, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max },
        };
      });
    },
    takeDirtyAgent(beforeWallMs = Infinity) {
      return agent.take(beforeWallMs, forgetBefore(), (name, startWallMs, s) => ({ name, startWallMs, value: s.value }));
    },
    get size() {
      return tests.size + agent.size;
    },
    get lateDiscarded() {
      return tests.lateDiscarded + agent.lateDiscarded;
    },
  };
}

interface Slot<S> {
  state: S;
  dirty: boolean;
  taken: boolean;
}

/** Interval states keyed by (name, start), with dirty tracking and forgetting of old taken ones. */
class IntervalTable<S> {
  #byName = new Map<string, Map<number, Slot<S>>>();
  /** Per name: every interval starting at or before this was forgotten. */
  #forgottenThrough = new Map<string, number>();
  #size = 0;
  #create: () => S;
  lateDiscarded = 0;

  constructor(create: () => S) {
    this.#create = create;
  }

  get size(): number {
    return this.#size;
  }

  /** The state for (name, start), marked dirty; undefined when that interval was already forgotten. */
  touch(name: string, start: number): S | undefined {
    let slots = this.#byName.get(name);
    if (!slots) {
      slots = new Map();
      this.#byName.set(name, slots);
    }
    let slot = slots.get(start);
    if (!slot) {
      if (start <= (this.#forgottenThrough.get(name) ?? -Infinity)) {
        this.lateDiscarded += 1;
        return undefined;
      }
      slot = { state: this.#create(), dirty: true, taken: false };
      slots.set(start, slot);
      this.#size += 1;
    }
    slot.dirty = true;
    return slot.state;
  }

  /** Snapshots and cleans dirty slots starting before `before`, then forgets clean taken slots starting before `forgetBefore`. */
  take<T extends { startWallMs: number }>(
    before: number,
    forgetBefore: number,
    snapshot: (name: string, start: number, state: S) => T,
  ): T[] {
    const out: T[] = [];
    for (const [name, slots] of this.#byName) {
      for (const [start, slot] of slots) {
        if (slot.dirty && start < before) {
          out.push(snapshot(name, start, slot.state));
          slot.dirty = false;
          slot.taken = true;
        }
        if (slot.taken && !slot.dirty && start < forgetBefore) {
          slots.delete(start);
          this.#size -= 1;
          this.#forgottenThrough.set(name, Math.max(start, this.#forgottenThrough.get(name) ?? -Infinity));
        }
      }
      if (slots.size === 0) this.#byName.delete(name);
    }
    // Stable: oldest interval first, names in first-seen order within one interval.
    return out.sort((a, b) => a.startWallMs - b.startWallMs);
  }
}

export interface IntervalFlusherOptions {
  /** Source of wall-clock time; boundaries are computed from it at every wake-up, so they never drift. */
  clock: Clock;
  /** Interval length, ms. */
  intervalMs: number;
  /** Called once per wake-up with the latest boundary passed (a multiple of `intervalMs`, epoch ms). Must not throw. */
  onBoundary(boundaryWallMs: number): void;
}

/** Calls back at every wall-clock multiple of `intervalMs`, on an unref'd timer. */
export interface IntervalFlusher {
  start(): void;
  stop(): void;
}

/**
 * Creates a flusher. Each wait is computed afresh as `next boundary − wallNow()`, so timer lateness
 * never accumulates; a timer that fires early just waits again, and one that fires very late (a
 * suspended machine) reports only the latest boundary passed.
 */
export function createIntervalFlusher(options: IntervalFlusherOptions): IntervalFlusher {
  const { clock, onBoundary } = options;
  const intervalMs = positiveInteger('intervalMs', options.intervalMs);
  let timer: NodeJS.Timeout | undefined;
  let next = 0;

  const schedule = () => {
    timer = setTimeout(fire, Math.max(0, next - clock.wallNow()));
    timer.unref();
  };
  const fire = () => {
    const now = clock.wallNow();
    if (now < next) {
      // More than an interval early means the wall clock was stepped back: wait for the next boundary
      // of the clock as it reads now, not for the old one (which could be hours away).
      if (next - now > intervalMs) next = Math.floor(now / intervalMs) * intervalMs + intervalMs;
      schedule();
      return;
    }
    const boundary = Math.floor(now / intervalMs) * intervalMs;
    next = boundary + intervalMs;
    schedule();
    try {
      onBoundary(boundary);
    } catch {
      // A sink's callback must not throw; if one does, keep the timer alive rather than stop reporting.
    }
  };

  return {
    start() {
      if (timer) return;
      next = Math.floor(clock.wallNow() / intervalMs) * intervalMs + intervalMs;
      schedule();
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`Expected \`${name}\` to be a positive integer, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0)) throw new TypeError(`Expected \`${name}\` to be a non-negative number, got ${v}`);
  return v;
}
