/**
 * One run's events turned into interval records: filed, as the Graphite sink files them, under the
 * 10-second interval of their scheduled tick (a plan under the interval it was made in), so a late
 * completion makes an interval already written dirty again, and its next record supersedes. Pure:
 * no timers, no I/O.
 */
import { cumulativeBuckets, failureSampleName, LATENCY_BOUNDS_MS, latencyBucketOf, outcomeOf, type MetricEvent } from '../events.js';
import { JournalHistogram } from './histogram.js';
import { JOURNAL_VERSION, type Distribution, type IntervalCounts, type IntervalRecord, type MetricFigure } from './records.js';

/** The Graphite sink's interval, ms. */
export const JOURNAL_INTERVAL_MS = 10_000;
/** How long a written interval is kept behind the newest event for late completions, ms (as the Graphite sink). */
export const JOURNAL_RETAIN_MS = 180_000;

interface Held {
  counts: IntervalCounts;
  failures: Map<string, number>;
  latency: JournalHistogram;
  /** Completed executions per latency bucket (`latencyBucketOf`), not cumulative. */
  buckets: Uint32Array;
  metrics: Map<string, { kind: 'counter' | 'gauge'; value: number } | { kind: 'timing'; values: JournalHistogram }>;
  dirty: boolean;
  written: boolean;
}

/** Interval records of one run, with dirty tracking and bounded memory. */
export interface JournalIntervals {
  /** Files one event; a plan counts as requested ticks. */
  add(event: MetricEvent): void;
  /**
   * The records of the intervals changed since last taken, starting before `beforeWallMs` (all when
   * omitted), at most `limit` of them (the rest stay for the next call), oldest first within the call.
   */
  takeDirty(beforeWallMs?: number, limit?: number): IntervalRecord[];
  /** Events dropped because their interval had already been forgotten. */
  readonly lateDiscarded: number;
}

/** Creates the intervals of run `run`. */
export function createJournalIntervals(run: string, intervalMs = JOURNAL_INTERVAL_MS, retainMs = JOURNAL_RETAIN_MS): JournalIntervals {
  const held = new Map<string, Map<number, Held>>();
  const forgotten = new Map<string, number>();
  let newest = -Infinity;
  let lateDiscarded = 0;

  const touch = (test: string, wallMs: number): Held | undefined => {
    const start = Math.floor(wallMs / intervalMs) * intervalMs;
    let byStart = held.get(test);
    if (!byStart) held.set(test, (byStart = new Map<number, Held>()));
    let h = byStart.get(start);
    if (!h) {
      if (start <= (forgotten.get(test) ?? -Infinity)) {
        lateDiscarded += 1;
        return undefined;
      }
      h = {
        counts: { requested: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0 },
        failures: new Map(),
        latency: new JournalHistogram(),
        buckets: new Uint32Array(LATENCY_BOUNDS_MS.length + 1),
        metrics: new Map(),
        dirty: true,
        written: false,
      };
      byStart.set(start, h);
    }
    h.dirty = true;
    return h;
  };

  return {
    add(event) {
      if (!Number.isFinite(event.tickWallMs)) return;
      newest = Math.max(newest, event.tickWallMs);
      const counted = outcomeOf(event);
      if (!counted && event.kind !== 'planned') return;
      const h = touch(event.test, event.tickWallMs);
      if (!h) return;
      if (event.kind === 'planned') {
        h.counts.requested += event.ticks;
        return;
      }
      if (counted) h.counts[counted.outcome] += counted.n;
      if (event.kind !== 'execution') return;
      h.latency.record(event.latencyMs);
      h.buckets[latencyBucketOf(event.latencyMs)]! += 1;
      if (!event.ok) {
        // The reason as the StatsD name spells it (`failed.<reason>`), without the `failed.`.
        const reason = failureSampleName(event.reason ?? '').slice('failed.'.length);
        h.failures.set(reason, (h.failures.get(reason) ?? 0) + 1);
      }
      for (const s of event.samples ?? []) addSample(h, s.name, s.kind, s.value);
    },
    takeDirty(beforeWallMs = Infinity, limit = Infinity) {
      const out: IntervalRecord[] = [];
      const forgetBefore = newest - retainMs;
      for (const [test, byStart] of held) {
        if (out.length >= limit) break;
        for (const [start, h] of byStart) {
          if (h.dirty && start < beforeWallMs && out.length < limit) {
            out.push(toRecord(run, test, start, h));
            h.dirty = false;
            h.written = true;
          }
          if (h.written && !h.dirty && start < forgetBefore) {
            byStart.delete(start);
            forgotten.set(test, Math.max(start, forgotten.get(test) ?? -Infinity));
          }
        }
        if (byStart.size === 0) held.delete(test);
      }
      return out.sort((a, b) => a.start - b.start);
    },
    get lateDiscarded() {
      return lateDiscarded;
    },
  };
}

/** As the Graphite sink's aggregation: a counter's calls add up, a gauge keeps its last value, timings form a distribution. */
function addSample(h: Held, name: string, kind: 'counter' | 'timing' | 'gauge', value: number): void {
  const prev = h.metrics.get(name);
  if (kind === 'timing') {
    const values = prev?.kind === 'timing' ? prev.values : new JournalHistogram();
    values.record(value);
    h.metrics.set(name, { kind: 'timing', values });
  } else if (kind === 'counter' && prev?.kind === 'counter') {
    prev.value += value;
  } else {
    h.metrics.set(name, { kind, value });
  }
}

/** A distribution as the Graphite sink sends it (mean, p50, p90, p99, max), rounded as its lines are (3 decimals). */
export function distributionOf(h: JournalHistogram): Distribution {
  const [p50, p90, p99] = h.percentiles([50, 90, 99]);
  return { mean: round3(h.mean), p50: round3(p50!), p90: round3(p90!), p99: round3(p99!), max: round3(h.max) };
}

function toRecord(run: string, test: string, start: number, h: Held): IntervalRecord {
  const completed = h.counts.ok + h.counts.failed;
  const metrics = [...h.metrics].map(([name, m]): MetricFigure =>
    m.kind === 'timing' ? { name, kind: 'timing', summary: distributionOf(m.values), hist: m.values.encode() } : { name, kind: m.kind, value: m.value },
  );
  return {
    v: JOURNAL_VERSION,
    kind: 'interval',
    run,
    test,
    start,
    ...h.counts,
    failures: Object.fromEntries(h.failures),
    latency: completed > 0 ? distributionOf(h.latency) : null,
    hist: completed > 0 ? h.latency.encode() : null,
    ...(completed > 0 ? { le: cumulativeBuckets(h.buckets) } : {}),
    ...(metrics.length > 0 ? { metrics } : {}),
  };
}

function round3(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : 0;
}
