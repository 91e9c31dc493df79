/**
 * The journal as time series for charts: per test, per bucket of a size fitted to the range (a minute
 * for an hour, ten minutes for a day, an hour for a week), the executions that completed ok and
 * failed, and latency p50 / p99 from the bucket's merged histograms (never averaged from per-interval
 * percentiles). The sums are fold.ts's; this is the form over records already in memory.
 */
import { createJournalFold } from './fold.js';
import type { JournalRange } from './reader.js';
import type { JournalSeries } from './report-types.js';

export { bucketSizeFor, type JournalSeries, type TestSeries } from './report-types.js';

/** Cuts the interval records of `range` in [from, to) into buckets, for `tests` only when given (and not empty). */
export function journalSeries(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalSeries {
  const fold = createJournalFold({ from: query.from, to: query.to, tests: query.tests, series: true });
  range.intervals.forEach((r, i) => fold.interval(r, i));
  return fold.result().series!;
}
