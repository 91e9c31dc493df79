/**
 * What `canihaz report` (and later the dashboard) says about a range of the journal: per test, the
 * sums of its interval records, latency percentiles from their merged histograms (never averaged
 * from per-interval percentiles), executions per minute of the time it ran; the runs; the minutes
 * copies skipped because every lock slot was busy. Pure.
 */
import { JournalHistogram } from './histogram.js';
import { distributionOf, JOURNAL_INTERVAL_MS } from './intervals.js';
import type { Distribution, IntervalRecord, RunEnd } from './records.js';
import type { JournalRange } from './reader.js';

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
export function summariseJournal(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalReport {
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
