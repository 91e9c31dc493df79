import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleSink, formatAgentLines, formatIntervalLine } from '../../src/metrics/console.js';
import type { MetricEvent } from '../../src/events.js';
import type { MetricSink } from '../../src/metrics/sink.js';
import { FakeClock } from '../support/fake-clock.js';

/** The sinks run on a FakeClock (a new one per test, starting on a whole second): intervals end when the test says. */
const INTERVAL_MS = 200;
const T = Date.UTC(2026, 10, 22, 12, 0, 10);

let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock();
});
const sinks: MetricSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop(clock.now() + 100)));
});

function consoleSink(intervalMs = INTERVAL_MS): { sink: MetricSink; lines: string[] } {
  const lines: string[] = [];
  const sink = createConsoleSink({ clock, intervalMs, write: (line) => lines.push(line) });
  sinks.push(sink);
  return { sink, lines };
}

/** A whole second `secondsAgo` before the clock's now, epoch ms. */
function secondAgo(secondsAgo: number): number {
  return Math.floor(clock.wallNow() / 1000) * 1000 - secondsAgo * 1000;
}

const ok = (tickWallMs: number, latencyMs: number): MetricEvent => ({ kind: 'execution', test: 'home', tickWallMs, ok: true, latencyMs, lagMs: 0 });

describe('console line format', () => {
  it.each([
    {
      name: 'with executions',
      snapshot: { test: 'home', startWallMs: T, count: 20, ok: 20, failed: 0, dropped: 0, missed: 0, aborted: 0, latency: { mean: 1.214, p50: 1.1, p90: 1.5, p99: 2, max: 2.306 } },
      line: '2026-11-22T12:00:10.000Z test=home count=20 ok=20 failed=0 dropped=0 missed=0 aborted=0 latency_mean=1.21 p50=1.10 p90=1.50 p99=2.00 max=2.31',
    },
    {
      name: 'without executions',
      snapshot: { test: 'api', startWallMs: T, count: 0, ok: 0, failed: 0, dropped: 3, missed: 2, aborted: 1, latency: null },
      line: '2026-11-22T12:00:10.000Z test=api count=0 ok=0 failed=0 dropped=3 missed=2 aborted=1',
    },
  ])('$name', ({ snapshot, line }) => {
    expect(formatIntervalLine(snapshot)).toBe(line);
  });

  it('puts agent counters of one interval on one line', () => {
    expect(
      formatAgentLines([
        { name: 'skipped', startWallMs: T, value: 2 },
        { name: 'lock_wait', startWallMs: T, value: 1 },
        { name: 'skipped', startWallMs: T + 10_000, value: 1 },
      ]),
    ).toEqual(['2026-11-22T12:00:10.000Z agent skipped=2 lock_wait=1', '2026-11-22T12:00:20.000Z agent skipped=1']);
  });
});

describe('console sink', () => {
  it('prints one line per test per ended interval, on the flusher’s schedule', async () => {
    const { sink, lines } = consoleSink();
    const t = secondAgo(3);
    await sink.start();
    sink.record(ok(t, 2));
    sink.record(ok(t + 1, 2));
    sink.record({ kind: 'execution', test: 'home', tickWallMs: t + 2, ok: false, reason: 'timeout', latencyMs: 2, lagMs: 0 });
    sink.record({ kind: 'dropped', test: 'home', tickWallMs: t + 3 });
    sink.record({ kind: 'missed', test: 'home', tickWallMs: t + 4, count: 4 });
    sink.record({ kind: 'aborted', test: 'home', tickWallMs: t + 5, latencyMs: 9 });
    expect(lines).toEqual([]); // nothing before the first boundary
    await clock.advance(INTERVAL_MS);
    expect(lines).toEqual([
      `${new Date(t).toISOString()} test=home count=3 ok=2 failed=1 dropped=1 missed=4 aborted=1 latency_mean=2.00 p50=2.00 p90=2.00 p99=2.00 max=2.00`,
    ]);
  });

  it('waits one more interval before printing, so completions in flight at the end are included', async () => {
    const { sink, lines } = consoleSink();
    await sink.start();
    await clock.advance(37); // record mid-interval
    const recordedAt = clock.wallNow();
    sink.record(ok(recordedAt, 1));
    const start = Math.floor(recordedAt / INTERVAL_MS) * INTERVAL_MS;
    await clock.advance(start + 2 * INTERVAL_MS - 1 - clock.wallNow());
    expect(lines).toEqual([]); // not at its end, nor until one interval later
    await clock.advance(1);
    expect(lines.length).toBe(1);
    expect(clock.wallNow()).toBeGreaterThanOrEqual(start + 2 * INTERVAL_MS);
    expect(lines[0]).toMatch(new RegExp(`^${new Date(start).toISOString()} test=home count=1 ok=1 `));
  });

  it('prints what is left, including the partial interval and agent counters, on stop', async () => {
    const { sink, lines } = consoleSink(10_000);
    await sink.start();
    await clock.advance(3_456);
    const now = clock.wallNow();
    sink.record(ok(now, 1.234));
    sink.recordAgent({ name: 'skipped', value: 1 });
    await sink.stop(clock.now() + 1_000);
    const start = new Date(Math.floor(now / 10_000) * 10_000).toISOString();
    expect(lines).toEqual([
      `${start} test=home count=1 ok=1 failed=0 dropped=0 missed=0 aborted=0 latency_mean=1.23 p50=1.23 p90=1.23 p99=1.23 max=1.23`,
      `${start} agent skipped=1`,
    ]);
    sink.record(ok(now, 1)); // ignored after stop
    await sink.stop(clock.now() + 1_000);
    expect(lines.length).toBe(2);
  });
});
