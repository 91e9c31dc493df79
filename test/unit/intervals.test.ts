import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { createIntervalFlusher } from '../../src/metrics/interval-flusher.js';
import { createIntervalAggregator, type IntervalSnapshot } from '../../src/metrics/intervals.js';
import type { MetricEvent } from '../../src/events.js';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const I = 10_000;

const ok = (test: string, tickWallMs: number, latencyMs = 1): MetricEvent => ({ kind: 'execution', test, tickWallMs, ok: true, latencyMs, lagMs: 0 });
const fail = (test: string, tickWallMs: number, latencyMs = 1): MetricEvent => ({
  kind: 'execution',
  test,
  tickWallMs,
  ok: false,
  reason: 'timeout',
  latencyMs,
  lagMs: 0,
});

/** The counting fields of snapshots, for compact expectations. */
const counts = (snaps: IntervalSnapshot[]) =>
  snaps.map((s) => ({ test: s.test, at: (s.startWallMs - T0) / 1000, count: s.count, ok: s.ok, failed: s.failed, dropped: s.dropped, missed: s.missed, aborted: s.aborted }));

describe('interval aggregator filing', () => {
  it.each([
    { name: 'tick at the very start of an interval', tick: T0, at: 0 },
    { name: 'tick just before the next interval', tick: T0 + I - 1, at: 0 },
    { name: 'tick on the next boundary', tick: T0 + I, at: 10 },
    { name: 'fractional tick', tick: T0 + 25_000.5, at: 20 },
  ])('$name', ({ tick, at }) => {
    const agg = createIntervalAggregator({ intervalMs: I });
    agg.add(ok('home', tick));
    expect(counts(agg.takeDirty()).map((s) => s.at)).toEqual([at]);
  });

  it('counts every kind of event under its tick’s interval', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    const events: MetricEvent[] = [
      ok('home', T0 + 1, 1),
      ok('home', T0 + 2, 3),
      fail('home', T0 + 3, 1000),
      { kind: 'dropped', test: 'home', tickWallMs: T0 + 4 },
      { kind: 'missed', test: 'home', tickWallMs: T0 + 5, count: 7 },
      { kind: 'aborted', test: 'home', tickWallMs: T0 + 6, latencyMs: 99_999 },
      ok('api', T0 + I + 1, 2),
      { kind: 'dropped', test: 'idle', tickWallMs: T0 + 1 },
    ];
    for (const e of events) agg.add(e);
    const snaps = agg.takeDirty();
    expect(counts(snaps)).toEqual([
      { test: 'home', at: 0, count: 3, ok: 2, failed: 1, dropped: 1, missed: 7, aborted: 1 },
      { test: 'idle', at: 0, count: 0, ok: 0, failed: 0, dropped: 1, missed: 0, aborted: 0 },
      { test: 'api', at: 10, count: 1, ok: 1, failed: 0, dropped: 0, missed: 0, aborted: 0 },
    ]);
    const home = snaps[0]!;
    // Aborted executions are not in the latency figures; failed ones are.
    expect(home.latency?.max).toBe(1000);
    expect(home.latency?.mean).toBeCloseTo(1004 / 3, 9);
    expect(home.latency?.p50).toBeCloseTo(3, 1);
    expect(snaps[1]!.latency).toBeNull();
    expect(snaps[2]!.latency).toEqual({ mean: 2, p50: 2, p90: 2, p99: 2, max: 2 });
  });

  it('rejects an interval that is not a positive integer', () => {
    expect(() => createIntervalAggregator({ intervalMs: 0 })).toThrow('Expected `intervalMs` to be a positive integer, got 0');
    expect(() => createIntervalAggregator({ intervalMs: 2.5 })).toThrow(/positive integer/);
    expect(() => createIntervalAggregator({ retainMs: -1 })).toThrow(/non-negative/);
  });
});

describe('interval aggregator takeDirty', () => {
  it('takes only intervals that start before the given time, each once', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    agg.add(ok('home', T0 + 1));
    agg.add(ok('home', T0 + I + 1));
    agg.add(ok('home', T0 + 2 * I + 1));
    expect(counts(agg.takeDirty(T0 + I)).map((s) => s.at)).toEqual([0]);
    expect(agg.takeDirty(T0 + I)).toEqual([]);
    expect(counts(agg.takeDirty(T0 + 2 * I)).map((s) => s.at)).toEqual([10]);
    expect(counts(agg.takeDirty()).map((s) => s.at)).toEqual([20]);
    expect(agg.takeDirty()).toEqual([]);
  });

  it('re-takes an interval with its final figures after a late completion', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    agg.add(ok('home', T0 + 1));
    agg.add(ok('home', T0 + 2));
    expect(counts(agg.takeDirty(T0 + I))[0]?.count).toBe(2);
    agg.add(fail('home', T0 + 3, 5000)); // completes after its interval was taken
    const again = agg.takeDirty(T0 + 2 * I);
    expect(counts(again)).toEqual([{ test: 'home', at: 0, count: 3, ok: 2, failed: 1, dropped: 0, missed: 0, aborted: 0 }]);
    expect(again[0]?.latency?.max).toBe(5000);
  });

  it('returns intervals oldest first', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    agg.add(ok('b', T0 + 2 * I));
    agg.add(ok('a', T0 + I));
    agg.add(ok('b', T0));
    expect(counts(agg.takeDirty()).map((s) => `${s.test}@${s.at}`)).toEqual(['b@0', 'a@10', 'b@20']);
  });
});

describe('interval aggregator memory', () => {
  it('forgets taken intervals older than the horizon, and discards events for them', () => {
    const agg = createIntervalAggregator({ intervalMs: I, retainMs: 30_000 });
    agg.add(ok('home', T0));
    agg.takeDirty();
    agg.add(ok('home', T0 + 30_000)); // newest - horizon = T0: the first interval is not older yet
    agg.takeDirty();
    expect(agg.size).toBe(2);
    agg.add(ok('home', T0 + 40_000));
    agg.takeDirty();
    expect(agg.size).toBe(2); // T0 forgotten; T0+30s and T0+40s kept
    agg.add(ok('home', T0 + 5)); // too late: re-sending it alone would overwrite the full figure
    expect(agg.lateDiscarded).toBe(1);
    expect(agg.takeDirty()).toEqual([]);
    agg.add(ok('home', T0 + 30_001)); // still within the horizon: updates the kept interval
    expect(counts(agg.takeDirty())).toEqual([{ test: 'home', at: 30, count: 2, ok: 2, failed: 0, dropped: 0, missed: 0, aborted: 0 }]);
  });

  it('keeps old intervals until they have been taken', () => {
    const agg = createIntervalAggregator({ intervalMs: I, retainMs: 30_000 });
    agg.add(ok('home', T0));
    agg.add(ok('home', T0 + 100_000));
    expect(agg.takeDirty(T0 + 1).length).toBe(1);
    expect(agg.size).toBe(1);
    expect(agg.takeDirty().length).toBe(1);
  });

  it('stays bounded over a day of events taken at each boundary', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    let maxSize = 0;
    for (let t = T0; t < T0 + 86_400_000; t += 1000) {
      for (const test of ['a', 'b', 'c']) agg.add(ok(test, t));
      if (t % I === 0) agg.takeDirty(t);
      agg.addAgent({ name: 'skipped', value: 1 }, t);
      if (t % I === 0) agg.takeDirtyAgent(t);
      maxSize = Math.max(maxSize, agg.size);
    }
    // 3 tests + agent, horizon 180 s / 10 s = 18 intervals each, plus the current and one pending.
    expect(maxSize).toBeLessThanOrEqual(4 * 21);
  });
});

describe('interval aggregator agent counters', () => {
  it('sums counters per name and interval, and takes them like tests', () => {
    const agg = createIntervalAggregator({ intervalMs: I });
    agg.addAgent({ name: 'skipped', value: 1 }, T0 + 1);
    agg.addAgent({ name: 'skipped', value: 2 }, T0 + 2);
    agg.addAgent({ name: 'skipped', value: 1 }, T0 + I);
    expect(agg.takeDirtyAgent(T0 + I)).toEqual([{ name: 'skipped', startWallMs: T0, value: 3 }]);
    expect(agg.takeDirtyAgent()).toEqual([{ name: 'skipped', startWallMs: T0 + I, value: 1 }]);
    expect(agg.takeDirty()).toEqual([]);
  });
});

describe('interval flusher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A clock over vitest's faked Date.now, so timers and wall time move together. */
  const fakeTimersClock = (): Clock => ({
    ...systemClock,
    now: () => Date.now(),
    wallNow: () => Date.now(),
    sleepUntil: async () => undefined,
  });

  it('fires on every wall-clock boundary without drift', async () => {
    vi.useFakeTimers({ now: T0 + 3_456 });
    const boundaries: number[] = [];
    const flusher = createIntervalFlusher({ clock: fakeTimersClock(), intervalMs: I, onBoundary: (b) => boundaries.push(b) });
    flusher.start();
    await vi.advanceTimersByTimeAsync(I - 3_457);
    expect(boundaries).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(boundaries).toEqual([T0 + I]);
    await vi.advanceTimersByTimeAsync(10 * I);
    expect(boundaries.map((b) => (b - T0) / I)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    flusher.stop();
    await vi.advanceTimersByTimeAsync(5 * I);
    expect(boundaries.length).toBe(11);
  });

  it('reports only the latest boundary after the machine slept, then stays aligned', async () => {
    vi.useFakeTimers({ now: T0 });
    const boundaries: number[] = [];
    const flusher = createIntervalFlusher({ clock: fakeTimersClock(), intervalMs: I, onBoundary: (b) => boundaries.push(b) });
    flusher.start();
    vi.setSystemTime(T0 + 5 * I + 500); // wall clock jumps while timers were frozen
    await vi.advanceTimersByTimeAsync(I);
    expect(boundaries[0]).toBe(T0 + 6 * I);
    await vi.advanceTimersByTimeAsync(I);
    expect(boundaries).toEqual([T0 + 6 * I, T0 + 7 * I]);
    flusher.stop();
  });

  it('keeps firing after a callback throws', async () => {
    vi.useFakeTimers({ now: T0 });
    let calls = 0;
    const flusher = createIntervalFlusher({
      clock: fakeTimersClock(),
      intervalMs: I,
      onBoundary: () => {
        calls += 1;
        throw new Error('boom');
      },
    });
    flusher.start();
    await vi.advanceTimersByTimeAsync(3 * I);
    expect(calls).toBe(3);
    flusher.stop();
  });
});
