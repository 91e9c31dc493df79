/** The end-of-run summary sink: the counts the scheduler used to keep, computed from events, and the same log line. */
import { describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { createLogger } from '../../src/log.js';
import { createSummaryBooks, createSummarySink } from '../../src/metrics/summary.js';

const T = Date.UTC(2026, 10, 22, 12, 0, 10);

const EVENTS: MetricEvent[] = [
  { kind: 'planned', test: 'home', tickWallMs: T, ticks: 10 },
  { kind: 'planned', test: 'paused', tickWallMs: T, ticks: 0 },
  { kind: 'missed', test: 'home', tickWallMs: T, count: 2 },
  ...[1, 2, 3, 4].map((ms): MetricEvent => ({ kind: 'execution', test: 'home', tickWallMs: T, ok: true, latencyMs: ms, lagMs: 0 })),
  { kind: 'execution', test: 'home', tickWallMs: T, ok: false, reason: 'timeout', latencyMs: 100, lagMs: 0 },
  { kind: 'dropped', test: 'home', tickWallMs: T },
  { kind: 'aborted', test: 'home', tickWallMs: T, latencyMs: 5_000 },
  // A stop withdrew the ticks not yet due: they were never owed.
  { kind: 'planned', test: 'home', tickWallMs: T, ticks: -1 },
];

describe('summary books', () => {
  it('count requested, started, each outcome, and latency percentiles of ok and failed executions (not aborted ones)', () => {
    const books = createSummaryBooks();
    for (const e of EVENTS) books.record(e);
    const [home, paused] = books.summaries();
    expect(home).toMatchObject({ name: 'home', requested: 9, started: 6, ok: 4, failed: 1, dropped: 1, missed: 2, aborted: 1 });
    expect(home!.requested).toBe(home!.started + home!.dropped + home!.missed);
    expect(home!.p50).toBeCloseTo(3, 1);
    expect(home!.p99).toBeCloseTo(100, 0);
    expect(paused).toEqual({ name: 'paused', requested: 0, started: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0, p50: 0, p99: 0 });
  });
});

describe('the summary sink', () => {
  it('orders its lines as `order` gives (the config), tests it does not name after them in first-seen order', async () => {
    const lines: string[] = [];
    const sink = createSummarySink({ logger: createLogger({ write: (l) => lines.push(l), wallNow: () => T }), order: () => ['c', 'a', 'b'] });
    for (const test of ['removed', 'b', 'a', 'gone', 'c']) sink.record({ kind: 'planned', test, tickWallMs: T, ticks: 1 });
    await sink.stop(0);
    expect(lines.map((l) => /test=(\S+)/.exec(l)?.[1])).toEqual(['c', 'a', 'b', 'removed', 'gone']);
  });

  it('writes one notice line per test at stop, in first-seen order, fields as before', async () => {
    const lines: string[] = [];
    const sink = createSummarySink({ logger: createLogger({ write: (l) => lines.push(l), wallNow: () => T }) });
    await sink.start();
    for (const e of EVENTS) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    expect(lines).toEqual([]);
    await sink.stop(0);
    expect(lines).toEqual([
      // Percentiles are the histogram's (within 1%), rounded to 0.01 ms.
      'ts=2026-11-22T12:00:10.000Z level=notice msg=summary test=home requested=9 started=6 ok=4 failed=1 dropped=1 missed=2 aborted=1 p50_ms=2.99 p99_ms=99.84',
      'ts=2026-11-22T12:00:10.000Z level=notice msg=summary test=paused requested=0 started=0 ok=0 failed=0 dropped=0 missed=0 aborted=0 p50_ms=0 p99_ms=0',
    ]);
    // Once stopped, nothing more is taken or written.
    sink.record(EVENTS[3]!);
    await sink.stop(0);
    expect(lines).toHaveLength(2);
  });
});
