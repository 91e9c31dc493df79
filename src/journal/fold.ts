/**
 * The report and the chart series of a range as running sums: each final interval record (one that
 * nothing supersedes any more) is added once and dropped, so reading a week holds per test its
 * counts, failures, one merged histogram and its custom metrics, per chart bucket a merged histogram,
 * per run its window — never the records. Pure: the order records come in changes nothing but the
 * last bits of float sums (a counter metric's sum, a timing's mean).
 */
import { bucketSizeFor, type JournalReport, type JournalSeries, type RunReport, type TestReport, type TestSeries } from './report-types.js';
import { round3, spanDistribution, SpanHistogram } from './span-histogram.js';
import { JOURNAL_INTERVAL_MS } from './intervals.js';
import type { IntervalRecord, RunRecord, SkippedRecord } from './records.js';

/** What is folded: the range [from, to), the tests (all when empty), and whether to cut chart series. */
export interface FoldQuery {
  from: number;
  to: number;
  tests?: readonly string[];
  series?: boolean;
}

type Metric = { kind: 'counter' | 'gauge'; value: number; at: number; seq: number } | { kind: 'timing'; values: SpanHistogram };

interface Acc {
  counts: { requested: number; ok: number; failed: number; dropped: number; missed: number; aborted: number };
  failures: Map<string, number>;
  latency: SpanHistogram;
  metrics: Map<string, Metric>;
  /** Each metric's first record (start, then first-seen order): the report lists them in that order. */
  metricFirst: Map<string, [number, number]>;
  /** Per run (its index in `runIds`): the first and last interval start seen, at spans[2i], spans[2i+1]. */
  runSlots: Map<number, number>;
  spans: number[];
  series?: { ok: number[]; failed: number[]; hists: (SpanHistogram | undefined)[] };
}

/** Running sums of a range's final records. */
export interface JournalFold {
  /** Adds a final interval record; `seq` orders records of equal start (the order their keys were first read). */
  interval(r: IntervalRecord, seq: number): void;
  /** A run record: the last of each run wins. */
  run(r: RunRecord): void;
  skipped(r: SkippedRecord): void;
  /** The report (as `summariseJournal`) and, when asked, the series (as `journalSeries`). */
  result(): { report: JournalReport; series: JournalSeries | undefined };
}

const COUNT_KEYS = ['requested', 'ok', 'failed', 'dropped', 'missed', 'aborted'] as const;

/** Creates an empty fold of `query`. */
export function createJournalFold(query: FoldQuery): JournalFold {
  const { from, to } = query;
  const only = query.tests && query.tests.length > 0 ? new Set(query.tests) : undefined;
  const byTest = new Map<string, Acc>();
  const runIds = new Map<string, number>();
  const runs = new Map<string, RunRecord>();
  const minutes = new Set<number>();
  const size = bucketSizeFor(to - from);
  const first = Math.floor(from / size) * size;
  const n = Math.max(1, Math.ceil((to - first) / size));

  const accOf = (test: string): Acc => {
    let acc = byTest.get(test);
    if (!acc) {
      acc = { counts: { requested: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0 }, failures: new Map(), latency: new SpanHistogram(), metrics: new Map(), metricFirst: new Map(), runSlots: new Map(), spans: [] };
      if (query.series) acc.series = { ok: new Array<number>(n).fill(0), failed: new Array<number>(n).fill(0), hists: new Array<SpanHistogram | undefined>(n) };
      byTest.set(test, acc);
    }
    return acc;
  };

  return {
    interval(r, seq) {
      if ((only && !only.has(r.test)) || r.start < from || r.start >= to) return;
      const acc = accOf(r.test);
      for (const k of COUNT_KEYS) acc.counts[k] += r[k];
      for (const reason in r.failures) acc.failures.set(reason, (acc.failures.get(reason) ?? 0) + r.failures[reason]!);
      if (r.hist) acc.latency.addEncoded(r.hist);
      let id = runIds.get(r.run);
      if (id === undefined) runIds.set(r.run, (id = runIds.size));
      const slot = acc.runSlots.get(id);
      if (slot === undefined) {
        acc.runSlots.set(id, acc.spans.length);
        acc.spans.push(r.start, r.start);
      } else {
        acc.spans[slot] = Math.min(acc.spans[slot]!, r.start);
        acc.spans[slot + 1] = Math.max(acc.spans[slot + 1]!, r.start);
      }
      for (const m of r.metrics ?? []) addMetric(acc, m, r.start, seq);
      const s = acc.series;
      const i = Math.floor((r.start - first) / size);
      if (!s || i < 0 || i >= n) return;
      s.ok[i]! += r.ok;
      s.failed[i]! += r.failed;
      if (r.hist && r.hist.n > 0) (s.hists[i] ??= new SpanHistogram()).addEncoded(r.hist);
    },
    run(r) {
      if (r.start < to && r.end > from) runs.set(r.run, r.books && Object.keys(r.books).length > 0 ? { ...r, books: {} } : r);
    },
    skipped(r) {
      if (r.at >= from && r.at < to) minutes.add(Math.floor(r.at / 60_000));
    },
    result() {
      const ordered = [...runs.values()].sort((a, b) => a.start - b.start);
      const ids = [...runIds.keys()];
      const tests = [...byTest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const report: JournalReport = {
        from: iso(from),
        to: iso(to),
        tests: tests.map(([test, acc]) => testReport(test, acc, ids, runs, from, to)),
        runs: ordered.map((r): RunReport => ({ start: iso(r.start), end: iso(r.end), host: r.host, slot: r.slot, ended: r.ended ?? 'unknown' })),
        skippedMinutes: minutes.size,
      };
      if (!query.series) return { report, series: undefined };
      const at = (h: SpanHistogram | undefined, p: number) => (h && h.count > 0 ? round3(h.percentiles([p])[0]!) : null);
      const series: JournalSeries = {
        bucketSeconds: size / 1000,
        t: Array.from({ length: n }, (_, i) => (first + i * size) / 1000),
        tests: tests.map(([test, acc]): TestSeries => {
          const s = acc.series!;
          return { test, ok: s.ok, failed: s.failed, p50: Array.from(s.hists, (h) => at(h, 50)), p99: Array.from(s.hists, (h) => at(h, 99)) };
        }),
      };
      return { report, series };
    },
  };
}

/** As report-data.ts did per record: a counter's values add up, a gauge keeps the latest interval's value, timings merge. */
function addMetric(acc: Acc, m: NonNullable<IntervalRecord['metrics']>[number], start: number, seq: number): void {
  const prev = acc.metrics.get(m.name);
  if (m.kind === 'timing') {
    if (prev?.kind === 'timing') {
      if (!prev.values.addEncoded(m.hist)) return;
    } else {
      const values = new SpanHistogram();
      if (!values.addEncoded(m.hist)) return;
      acc.metrics.set(m.name, { kind: 'timing', values });
    }
  } else if (m.kind === 'counter' && prev?.kind === 'counter') {
    prev.value += m.value;
  } else if (m.kind === 'counter' || m.kind === 'gauge') {
    // A gauge keeps the latest interval's value; of equal starts, the record whose key was read last.
    const newer = prev?.kind === 'gauge' && (prev.at > start || (prev.at === start && prev.seq > seq));
    if (!newer) acc.metrics.set(m.name, { kind: m.kind, value: m.value, at: start, seq });
  } else return;
  const firstSeen = acc.metricFirst.get(m.name);
  if (!firstSeen || start < firstSeen[0] || (start === firstSeen[0] && seq < firstSeen[1])) acc.metricFirst.set(m.name, [start, seq]);
}

function testReport(test: string, acc: Acc, ids: string[], runs: Map<string, RunRecord>, from: number, to: number): TestReport {
  const started = acc.counts.ok + acc.counts.failed + acc.counts.aborted;
  let activeMs = 0;
  for (const [id, slot] of acc.runSlots) {
    const w = runs.get(ids[id]!);
    const spanEnd = acc.spans[slot + 1]! + JOURNAL_INTERVAL_MS;
    // A stopped run ran until it stopped; a killed one (no ending) until its last interval; a run
    // without its record (its first write failed) over the span of its intervals.
    const [s, e] = w ? [w.start, Math.min(w.end, w.ended ? w.at : spanEnd)] : [acc.spans[slot]!, spanEnd];
    activeMs += Math.max(0, Math.min(e, to) - Math.max(s, from));
  }
  const d = acc.latency.count > 0 ? spanDistribution(acc.latency) : undefined;
  const names = [...acc.metrics.keys()].sort((a, b) => {
    const [x, y] = [acc.metricFirst.get(a)!, acc.metricFirst.get(b)!];
    return x[0] - y[0] || x[1] - y[1];
  });
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
      names.map((name) => {
        const m = acc.metrics.get(name)!;
        return [name, m.kind === 'timing' ? { count: m.values.count, ...spanDistribution(m.values) } : m.value];
      }),
    ),
  };
}

function iso(wallMs: number): string {
  return new Date(wallMs).toISOString();
}
