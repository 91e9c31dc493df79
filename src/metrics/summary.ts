/**
 * The end-of-run summary: one `summary` line per test at notice level, with its counts and latency
 * percentiles, written when the run stops. A sink like the others; it sees every test's events,
 * whatever the test's destinations.
 */
import { outcomeOf, TEST_COUNTS, type MetricEvent, type TestCounts } from '../events.js';
import type { Logger } from '../log.js';
import { createHistogram, type Histogram } from './histogram.js';
import type { MetricSink } from './sink.js';

/** End-of-run figures for one test. */
export interface TestSummary extends TestCounts {
  name: string;
  /** Latency percentiles of its ok and failed executions, ms; 0 when there were none. */
  p50: number;
  p99: number;
}

/** Per-test counts and latencies built from events; pure. */
export interface SummaryBooks {
  record(event: MetricEvent): void;
  /**
   * Every test's figures so far, in the order tests first appeared. `started` is ok + failed +
   * aborted: every execution started ends as one of them before the run ends (the scheduler
   * settles one that ignores its own timeout as a timeout).
   */
  summaries(): TestSummary[];
}

/** Creates empty books. */
export function createSummaryBooks(): SummaryBooks {
  type Book = { counts: TestCounts; latency: Histogram };
  const books = new Map<string, Book>();
  /** The book recorded in last: events of one test mostly follow each other. */
  let lastTest: string | undefined;
  let lastBook: Book | undefined;
  return {
    record(event) {
      let book = event.test === lastTest ? lastBook : books.get(event.test);
      if (!book) {
        book = { counts: Object.fromEntries(TEST_COUNTS.map((k) => [k, 0])) as TestCounts, latency: createHistogram() };
        books.set(event.test, book);
      }
      lastTest = event.test;
      lastBook = book;
      if (event.kind === 'planned') book.counts.requested += event.ticks;
      const counted = outcomeOf(event);
      if (counted) book.counts[counted.outcome] += counted.n;
      if (event.kind === 'execution') book.latency.record(event.latencyMs);
    },
    summaries() {
      return [...books].map(([name, { counts, latency }]) => ({
        name,
        ...counts,
        started: counts.ok + counts.failed + counts.aborted,
        p50: latency.percentile(50),
        p99: latency.percentile(99),
      }));
    },
  };
}

/**
 * The summary sink: `stop` writes one `summary` line per test, fields in TEST_COUNTS order, then
 * `p50_ms` and `p99_ms`; tests in the order `order()` gives (the config's), any other after them in
 * the order they first appeared (the scheduler starts tests in the order of their first tick).
 */
export function createSummarySink(options: { logger: Logger; order?: () => readonly string[] }): MetricSink {
  const books = createSummaryBooks();
  let stopped = false;
  return {
    name: 'summary',
    async start() {},
    record(event) {
      if (!stopped) books.record(event);
    },
    recordAgent() {},
    async stop() {
      if (stopped) return;
      stopped = true;
      const rank = new Map((options.order?.() ?? []).map((name, i) => [name, i]));
      const ranked = books.summaries().map((s, seen) => ({ s, key: rank.get(s.name) ?? rank.size + seen }));
      ranked.sort((a, b) => a.key - b.key);
      for (const { s: { name, p50, p99, ...counts } } of ranked) {
        const fields = Object.fromEntries(TEST_COUNTS.map((k) => [k, counts[k]]));
        options.logger.notice('summary', { test: name, ...fields, p50_ms: round2(p50), p99_ms: round2(p99) });
      }
    },
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
