/**
 * The shapes of what readers of the journal say about a range: the report (`canihaz report --format
 * json`, the dashboard's `/api/report`) and the chart series, with the series' bucket sizes.
 */
import type { Distribution, RunEnd } from './records.js';

/** A timing metric over the range: how many values and their distribution, ms. */
export type TimingReport = { count: number } & Distribution;

/** One test over the range. */
export interface TestReport {
  test: string;
  requested: number;
  started: number;
  ok: number;
  failed: number;
  dropped: number;
  missed: number;
  aborted: number;
  /** Failed executions by reason, reasons sorted. */
  failures: Record<string, number>;
  /** Latency of the completed executions, ms, from the merged histograms; null when none completed. */
  latency: { p50: number; p90: number; p99: number; max: number } | null;
  /** Executions started per minute of the time the test ran in the range (its runs' windows). */
  perMinute: number;
  /** The results' own figures: a counter's sum, a gauge's last value, a timing's distribution. */
  metrics: Record<string, number | TimingReport>;
}

/** One run (copy) whose window overlaps the range. */
export interface RunReport {
  start: string;
  end: string;
  host: string;
  slot: number;
  /** `unknown`: the copy was killed before it could say, or is still running. */
  ended: RunEnd | 'unknown';
}

/** The report of a range; `from` and `to` are ISO times, `to` excluded. */
export interface JournalReport {
  from: string;
  to: string;
  tests: TestReport[];
  runs: RunReport[];
  /** Distinct minutes in which a copy found every lock slot busy and ran nothing. */
  skippedMinutes: number;
}

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

/** Bucket sizes, smallest first, ms; the smallest that cuts the range into at most MAX_BUCKETS is used. */
const BUCKET_SIZES_MS = [60_000, 600_000, 3_600_000, 86_400_000] as const;
/** Most buckets of one series: 60 for an hour, 144 for a day, 168 for a week. */
const MAX_BUCKETS = 200;

/** The bucket size for a range of `rangeMs`, ms. */
export function bucketSizeFor(rangeMs: number): number {
  return BUCKET_SIZES_MS.find((size) => rangeMs / size <= MAX_BUCKETS) ?? BUCKET_SIZES_MS[BUCKET_SIZES_MS.length - 1]!;
}
