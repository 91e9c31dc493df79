/**
 * The journal as time series for charts: per test, per bucket of a size fitted to the range (a minute
 * for an hour, ten minutes for a day, an hour for a week), the executions that completed ok and
 * failed, and latency p50 / p99 from the bucket's merged histograms (never averaged from per-interval
 * percentiles). Pure.
 */
import { JournalHistogram } from './histogram.js';
import type { JournalRange } from './reader.js';

/** Bucket sizes, smallest first, ms; the smallest that cuts the range into at most MAX_BUCKETS is used. */
const BUCKET_SIZES_MS = [60_000, 600_000, 3_600_000, 86_400_000] as const;
/** Most buckets of one series: 60 for an hour, 144 for a day, 168 for a week. */
const MAX_BUCKETS = 200;

/** One test's series; every array has one value per bucket of `JournalSeries.t`. */
export interface TestSeries {
  test: string;
  /** Executions that completed ok / failed in the bucket. */
  ok: number[];
  failed: number[];
  /** Latency of the bucket's completed executions, ms; null when none completed. */
  p50: (number | null)[];
  p99: (number | null)[];
}

/** The series of a range, one per test, on shared buckets. */
export interface JournalSeries {
  /** Bucket size, seconds. */
  bucketSeconds: number;
  /** Each bucket's start, epoch seconds (aligned to its size), oldest first. */
  t: number[];
  tests: TestSeries[];
}

/** The bucket size for a range of `rangeMs`, ms. */
export function bucketSizeFor(rangeMs: number): number {
  return BUCKET_SIZES_MS.find((size) => rangeMs / size <= MAX_BUCKETS) ?? BUCKET_SIZES_MS[BUCKET_SIZES_MS.length - 1]!;
}

/** Cuts the interval records of `range` in [from, to) into buckets, for `tests` only when given (and not empty). */
export function journalSeries(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalSeries {
  const size = bucketSizeFor(query.to - query.from);
  const first = Math.floor(query.from / size) * size;
  const n = Math.max(1, Math.ceil((query.to - first) / size));
  const only = query.tests && query.tests.length > 0 ? new Set(query.tests) : undefined;
  const byTest = new Map<string, { ok: number[]; failed: number[]; hists: (JournalHistogram | undefined)[] }>();
  for (const r of range.intervals) {
    if (only && !only.has(r.test)) continue;
    if (r.start < query.from || r.start >= query.to) continue;
    const i = Math.floor((r.start - first) / size);
    if (i < 0 || i >= n) continue;
    let s = byTest.get(r.test);
    if (!s) byTest.set(r.test, (s = { ok: new Array<number>(n).fill(0), failed: new Array<number>(n).fill(0), hists: new Array<JournalHistogram | undefined>(n) }));
    s.ok[i]! += r.ok;
    s.failed[i]! += r.failed;
    const h = r.hist ? JournalHistogram.decode(r.hist) : undefined;
    if (h && h.count > 0) {
      const held = s.hists[i];
      if (held) held.merge(h);
      else s.hists[i] = h;
    }
  }
  const at = (h: JournalHistogram | undefined, p: number) => (h ? round3(h.percentile(p)) : null);
  const tests = [...byTest]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([test, s]): TestSeries => ({
      test,
      ok: s.ok,
      failed: s.failed,
      p50: Array.from(s.hists, (h) => at(h, 50)),
      p99: Array.from(s.hists, (h) => at(h, 99)),
    }));
  return { bucketSeconds: size / 1000, t: Array.from({ length: n }, (_, i) => (first + i * size) / 1000), tests };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
