/**
 * Aggregation of events into fixed wall-clock intervals, shared by the Graphite and console sinks.
 * An event is filed under the interval of its scheduled tick, not of its completion, so a late
 * completion makes an interval that was already taken dirty again and it is taken once more with
 * its final figures.
 */
import { cumulativeBuckets, LATENCY_BOUNDS_MS, latencyBucketOf, OUTCOMES, outcomeOf, type AgentCounter, type MetricEvent, type Outcome } from '../events.js';
import { createHistogram, type Histogram } from './histogram.js';

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

/** One of the results' own samples, summed (counter), last (gauge) or distributed (timing) over an interval. */
export type IntervalSample = { name: string; kind: 'counter' | 'gauge'; value: number } | { name: string; kind: 'timing'; summary: LatencySummary };

/** One test's figures for one interval: how many ticks came to each outcome (missed: the sum of the missed events' `count`). */
export type IntervalSnapshot = Record<Outcome, number> & {
  test: string;
  /** Interval start, epoch ms (a multiple of the interval length). */
  startWallMs: number;
  /** Executions that completed: ok + failed. */
  count: number;
  /** Latency of the ok and failed executions; null when `count` is 0. */
  latency: LatencySummary | null;
  /**
   * The same executions counted cumulatively per latency bound, in LATENCY_BUCKET_NAMES order
   * (`le[i]`: latency ≤ LATENCY_BOUNDS_MS[i]; the last, `le_inf`, equals `count`); absent when `count`
   * is 0 (and in a replayed journal record written before the counters existed).
   */
  le?: readonly number[];
  /** The results' own samples, by name in first-seen order; absent when there are none. */
  samples?: IntervalSample[];
};

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
   * `beforeWallMs` (all of them when omitted), at most `limit` of them (the rest stay for the next
   * call), oldest first within the call, and marks them clean.
   */
  takeDirty(beforeWallMs?: number, limit?: number): IntervalSnapshot[];
  /** Same as `takeDirty`, for agent-level counters. */
  takeDirtyAgent(beforeWallMs?: number): AgentIntervalSnapshot[];
  /** Intervals held right now (test and agent). */
  readonly size: number;
  /** Events discarded because their interval had already been forgotten. */
  readonly lateDiscarded: number;
}

interface TestInterval {
  counts: Record<Outcome, number>;
  latency: Histogram;
  /** Completed executions per latency bucket (`latencyBucketOf`), not cumulative. */
  buckets: Uint32Array;
  samples: Map<string, { kind: 'counter' | 'gauge'; value: number } | { kind: 'timing'; values: Histogram }>;
}

function summarise(h: Histogram): LatencySummary {
  return { mean: h.mean, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max };
}

/** Creates an empty aggregator. Throws on invalid options. */
export function createIntervalAggregator(options: IntervalAggregatorOptions = {}): IntervalAggregator {
  const intervalMs = positiveInteger('intervalMs', options.intervalMs ?? DEFAULT_INTERVAL_MS);
  const retainMs = nonNegative('retainMs', options.retainMs ?? DEFAULT_RETAIN_MS);
  let newestWallMs = -Infinity;
  const startOf = (wallMs: number) => Math.floor(wallMs / intervalMs) * intervalMs;
  const tests = new IntervalTable<TestInterval>(() => ({
    counts: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    latency: createHistogram(),
    buckets: new Uint32Array(LATENCY_BOUNDS_MS.length + 1),
    samples: new Map(),
  }));
  const agent = new IntervalTable<{ value: number }>(() => ({ value: 0 }));
  const forgetBefore = () => newestWallMs - retainMs;

  return {
    intervalMs,
    add(event) {
      const counted = outcomeOf(event);
      // A plan counts nothing per interval: it must not make an interval (and its zero lines) appear.
      if (!counted || !Number.isFinite(event.tickWallMs)) return;
      newestWallMs = Math.max(newestWallMs, event.tickWallMs);
      const s = tests.touch(event.test, startOf(event.tickWallMs));
      if (!s) return;
      s.counts[counted.outcome] += counted.n;
      if (event.kind !== 'execution') return;
      s.latency.record(event.latencyMs);
      s.buckets[latencyBucketOf(event.latencyMs)]! += 1;
      if (!event.samples) return;
      for (const sample of event.samples) {
        const held = s.samples.get(sample.name);
        if (sample.kind === 'timing') {
          const values = held?.kind === 'timing' ? held.values : createHistogram();
          values.record(sample.value);
          s.samples.set(sample.name, { kind: 'timing', values });
        } else if (sample.kind === 'counter' && held?.kind === 'counter') {
          held.value += sample.value;
        } else {
          s.samples.set(sample.name, { kind: sample.kind, value: sample.value });
        }
      }
    },
    addAgent(counter, wallMs) {
      if (!Number.isFinite(wallMs)) return;
      newestWallMs = Math.max(newestWallMs, wallMs);
      const s = agent.touch(counter.name, startOf(wallMs));
      if (s) s.value += counter.value;
    },
    takeDirty(beforeWallMs = Infinity, limit = Infinity) {
      return tests.take(beforeWallMs, forgetBefore(), limit, (test, startWallMs, s): IntervalSnapshot => {
        const count = s.counts.ok + s.counts.failed;
        const samples = [...s.samples].map(([name, held]): IntervalSample =>
          held.kind === 'timing' ? { name, kind: 'timing', summary: summarise(held.values) } : { name, kind: held.kind, value: held.value },
        );
        return {
          test,
          startWallMs,
          count,
          ...s.counts,
          latency: count === 0 ? null : summarise(s.latency),
          ...(count === 0 ? {} : { le: cumulativeBuckets(s.buckets) }),
          ...(samples.length > 0 ? { samples } : {}),
        };
      });
    },
    takeDirtyAgent(beforeWallMs = Infinity) {
      return agent.take(beforeWallMs, forgetBefore(), Infinity, (name, startWallMs, s) => ({ name, startWallMs, value: s.value }));
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
  /** The slot touched last, and its name and start: most events land where the one before did. */
  #last: { name: string; start: number; slot: Slot<S> } | undefined;

  constructor(create: () => S) {
    this.#create = create;
  }

  get size(): number {
    return this.#size;
  }

  /** The state for (name, start), marked dirty; undefined when that interval was already forgotten. */
  touch(name: string, start: number): S | undefined {
    const last = this.#last;
    if (last !== undefined && last.start === start && last.name === name) {
      last.slot.dirty = true;
      return last.slot.state;
    }
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
    this.#last = { name, start, slot };
    return slot.state;
  }

  /**
   * Snapshots and cleans up to `limit` dirty slots starting before `before`, then forgets clean taken
   * slots starting before `forgetBefore`.
   */
  take<T extends { startWallMs: number }>(
    before: number,
    forgetBefore: number,
    limit: number,
    snapshot: (name: string, start: number, state: S) => T,
  ): T[] {
    const out: T[] = [];
    // A slot may be forgotten below: the next touch looks it up again.
    this.#last = undefined;
    for (const [name, slots] of this.#byName) {
      for (const [start, slot] of slots) {
        if (slot.dirty && start < before && out.length < limit) {
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

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`Expected \`${name}\` to be a positive integer, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0)) throw new TypeError(`Expected \`${name}\` to be a non-negative number, got ${v}`);
  return v;
}
