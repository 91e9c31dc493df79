// The in-memory report and series as they were before the streaming fold (src/journal/fold.ts),
// kept as the reference the fold is compared with (test/unit/journal-fold.test.ts).
import { JournalHistogram } from '../../src/journal/histogram.js';
import { distributionOf, JOURNAL_INTERVAL_MS } from '../../src/journal/intervals.js';
import type { Distribution, IntervalRecord, RunEnd } from '../../src/journal/records.js';
import type { JournalRange } from '../../src/journal/reader.js';
import type { JournalSeries, TestSeries } from '../../src/journal/series.js';

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

interface Acc {
  counts: Omit<TestReport, 'test' | 'started' | 'failures' | 'latency' | 'perMinute' | 'metrics'>;
  failures: Map<string, number>;
  latency: JournalHistogram;
  metrics: Map<string, { kind: 'counter' | 'gauge'; value: number; at: number } | { kind: 'timing'; values: JournalHistogram }>;
  /** Per run: the first and last interval start seen. */
  runs: Map<string, { first: number; last: number }>;
}

/** Sums `range` into a report of [from, to), for `tests` only when given (and not empty). */
export function referenceSummary(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalReport {
  const { from, to } = query;
  const only = query.tests && query.tests.length > 0 ? new Set(query.tests) : undefined;
  const byTest = new Map<string, Acc>();
  for (const r of range.intervals) {
    if ((only && !only.has(r.test)) || r.start < from || r.start >= to) continue;
    let acc = byTest.get(r.test);
    if (!acc) byTest.set(r.test, (acc = newAcc()));
    add(acc, r);
  }
  const windows = new Map(range.runs.map((r) => [r.run, r]));
  const tests = [...byTest]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([test, acc]): TestReport => {
      const started = acc.counts.ok + acc.counts.failed + acc.counts.aborted;
      let activeMs = 0;
      for (const [run, seen] of acc.runs) {
        const w = windows.get(run);
        const spanEnd = seen.last + JOURNAL_INTERVAL_MS;
        // A stopped run ran until it stopped; a killed one (no ending) until its last interval; a run
        // without its record (its first write failed) over the span of its intervals.
        const [s, e] = w ? [w.start, Math.min(w.end, w.ended ? w.at : spanEnd)] : [seen.first, spanEnd];
        activeMs += Math.max(0, Math.min(e, to) - Math.max(s, from));
      }
      const d = acc.latency.count > 0 ? distributionOf(acc.latency) : undefined;
      return {
        test,
        requested: acc.counts.requested,
        started,
        ok: acc.counts.ok,
        failed: acc.counts.failed,
        dropped: acc.counts.dropped,
        missed: acc.counts.missed,
        aborted: acc.counts.aborted,
        failures: Object.fromEntries([...acc.failures].sort(([a], [b]) => (a < b ? -1 : 1))),
        latency: d ? { p50: d.p50, p90: d.p90, p99: d.p99, max: d.max } : null,
        perMinute: activeMs > 0 ? Math.round((started / (activeMs / 60_000)) * 100) / 100 : 0,
        metrics: Object.fromEntries(
          [...acc.metrics].map(([name, m]) => [name, m.kind === 'timing' ? { count: m.values.count, ...distributionOf(m.values) } : m.value]),
        ),
      };
    });
  const runs = range.runs
    .filter((r) => r.start < to && r.end > from)
    .map(
    (r): RunReport => ({ start: iso(r.start), end: iso(r.end), host: r.host, slot: r.slot, ended: r.ended ?? 'unknown' }),
  );
  const skippedMinutes = new Set(range.skipped.filter((s) => s.at >= from && s.at < to).map((s) => Math.floor(s.at / 60_000))).size;
  return { from: iso(from), to: iso(to), tests, runs, skippedMinutes };
}

function newAcc(): Acc {
  return {
    counts: { requested: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0 },
    failures: new Map(),
    latency: new JournalHistogram(),
    metrics: new Map(),
    runs: new Map(),
  };
}

function add(acc: Acc, r: IntervalRecord): void {
  for (const k of ['requested', 'ok', 'failed', 'dropped', 'missed', 'aborted'] as const) acc.counts[k] += r[k];
  for (const [reason, n] of Object.entries(r.failures)) acc.failures.set(reason, (acc.failures.get(reason) ?? 0) + n);
  const h = r.hist ? JournalHistogram.decode(r.hist) : undefined;
  if (h) acc.latency.merge(h);
  const seen = acc.runs.get(r.run);
  if (!seen) acc.runs.set(r.run, { first: r.start, last: r.start });
  else {
    seen.first = Math.min(seen.first, r.start);
    seen.last = Math.max(seen.last, r.start);
  }
  for (const m of r.metrics ?? []) {
    const prev = acc.metrics.get(m.name);
    if (m.kind === 'timing') {
      const values = JournalHistogram.decode(m.hist);
      if (!values) continue;
      if (prev?.kind === 'timing') prev.values.merge(values);
      else acc.metrics.set(m.name, { kind: 'timing', values });
    } else if (m.kind === 'counter' && prev?.kind === 'counter') {
      prev.value += m.value;
    } else if (m.kind === 'counter' || m.kind === 'gauge') {
      // A gauge keeps the value of the latest interval (records come oldest first).
      if (!(prev?.kind === 'gauge' && prev.at > r.start)) acc.metrics.set(m.name, { kind: m.kind, value: m.value, at: r.start });
    }
  }
}

function iso(wallMs: number): string {
  return new Date(wallMs).toISOString();
}

/** Bucket sizes, smallest first, ms; the smallest that cuts the range into at most MAX_BUCKETS is used. */
const BUCKET_SIZES_MS = [60_000, 600_000, 3_600_000, 86_400_000] as const;
/** Most buckets of one series: 60 for an hour, 144 for a day, 168 for a week. */
const MAX_BUCKETS = 200;

/** The bucket size for a range of `rangeMs`, ms. */
function bucketSizeFor(rangeMs: number): number {
  return BUCKET_SIZES_MS.find((size) => rangeMs / size <= MAX_BUCKETS) ?? BUCKET_SIZES_MS[BUCKET_SIZES_MS.length - 1]!;
}

/** Cuts the interval records of `range` in [from, to) into buckets, for `tests` only when given (and not empty). */
export function referenceSeries(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalSeries {
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
  const at = (h: JournalHistogram | undefined, p: number) => (h ? round3s(h.percentile(p)) : null);
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

function round3s(v: number): number {
  return Math.round(v * 1000) / 1000;
}
