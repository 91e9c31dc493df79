/**
 * The wall clock stepped forward or back during a run (NTP, an operator), through the clock seam:
 * pacing stays on the monotonic clock; timestamps (events' tickWallMs, the Graphite/console interval
 * stamps built from them, the interval flusher's boundaries) follow the wall clock as it reads when
 * each tick fires. Driven by the fake clock, no sleeps.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock, type Cancel, type Clock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { createIntervalFlusher } from '../../src/metrics/interval-flusher.js';
import { createIntervalAggregator } from '../../src/metrics/intervals.js';
import type { MetricEvent } from '../../src/events.js';
import { createSummaryBooks } from '../../src/metrics/summary.js';
import { createScheduler, WALL_STEP_MS } from '../../src/schedule/scheduler.js';
import { FakeClock } from '../support/fake-clock.js';

const HOUR = 3_600_000;
const I = 10_000;

/** The fake clock with a wall clock that can be stepped without moving the monotonic one. */
class SteppableClock implements Clock {
  readonly mono = new FakeClock(50_000, Date.UTC(2026, 10, 22, 12, 0, 0));
  #step = 0;
  now(): number {
    return this.mono.now();
  }
  wallNow(): number {
    return this.mono.wallNow() + this.#step;
  }
  sleepUntil(monoMs: number, signal?: AbortSignal): Promise<void> {
    return this.mono.sleepUntil(monoMs, signal);
  }
  after(ms: number, fn: () => void): Cancel {
    return this.mono.after(ms, fn);
  }
  every(ms: number, fn: () => void): Cancel {
    return this.mono.every(ms, fn);
  }
  soon(fn: () => void): Cancel {
    return this.mono.soon(fn);
  }
  /** Steps the wall clock by `ms` (negative: back), as `date -s` or an NTP step would. */
  step(ms: number): void {
    this.#step += ms;
  }
}

/** Runs one 30 s window of a 600/min test, stepping the wall clock by `steps[0]` at 10 s and `steps[1]` at 20 s. */
async function runThroughSteps(steps: [number, number] = [+HOUR, -2 * HOUR]) {
  const clock = new SteppableClock();
  const dispatchedMono: number[] = [];
  const start = clock.now();
  const startWall = clock.wallNow();
  const events: MetricEvent[] = [];
  const books = createSummaryBooks();
  const scheduler = createScheduler({
    clock,
    logger: silentLogger,
    hostname: 'host-a',
    window: { startWall, endWall: startWall + 30_000 },
    emit: (_job, e) => {
      events.push(e);
      books.record(e);
    },
  });
  const steady = {
    key: 'steady',
    name: 'steady',
    frequency: 600,
    concurrency: 100,
    timeoutMs: 1_000,
    execute: async () => {
      dispatchedMono.push(clock.now());
      return { ok: true, latencyMs: 1 };
    },
  };
  scheduler.apply([steady], { catchUp: true });
  const done = scheduler.run();
  await clock.mono.advance(10_000);
  clock.step(steps[0]);
  await clock.mono.advance(10_000);
  clock.step(steps[1]);
  await clock.mono.advance(10_000);
  await done;
  return { start, startWall, dispatchedMono, events, summary: books.summaries()[0]! };
}

describe('the wall clock stepped during a run', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps pacing on the monotonic clock: every tick, evenly spaced, books balanced', async () => {
    const { start, dispatchedMono, summary } = await runThroughSteps();
    expect(dispatchedMono).toHaveLength(300); // 600/min over 30 s
    const gaps = dispatchedMono.slice(1).map((t, i) => t - dispatchedMono[i]!);
    expect(Math.min(...gaps)).toBeCloseTo(100, 6);
    expect(Math.max(...gaps)).toBeCloseTo(100, 6);
    expect(dispatchedMono[0]!).toBeGreaterThanOrEqual(start);
    expect(dispatchedMono.at(-1)!).toBeLessThan(start + 30_000);
    expect(summary).toMatchObject({ requested: 300, started: 300, ok: 300, failed: 0, dropped: 0, missed: 0, aborted: 0 });
  });

  it('stamps each tick with the wall clock as it reads when the tick fires', async () => {
    const { start, startWall, dispatchedMono, events } = await runThroughSteps();
    const execs = events.filter((e): e is Extract<MetricEvent, { kind: 'execution' }> => e.kind === 'execution');
    expect(execs).toHaveLength(300);
    // Each tick's stamp is its monotonic time seen through the wall clock of its era.
    const expected = dispatchedMono.map((mono) => {
      const offset = mono - start < 10_000 ? 0 : mono - start < 20_000 ? HOUR : -HOUR;
      return startWall + (mono - start) + offset;
    });
    expect(execs.map((e) => e.tickWallMs)).toEqual(expected);
    const eras = execs.map((e) => Math.round((e.tickWallMs - startWall) / HOUR));
    expect(eras.filter((h) => h === 0)).toHaveLength(100);
    expect(eras.filter((h) => h === 1)).toHaveLength(100);
    expect(eras.filter((h) => h === -1)).toHaveLength(100);
  });

  it(`follows a step just over WALL_STEP_MS (${WALL_STEP_MS} ms), and ignores jitter below it`, async () => {
    const small = WALL_STEP_MS / 2;
    const big = WALL_STEP_MS + 1;
    const { start, startWall, dispatchedMono, events } = await runThroughSteps([small, big - small]);
    const stamps = events.flatMap((e) => (e.kind === 'execution' ? [e.tickWallMs] : []));
    const expected = dispatchedMono.map((mono) => startWall + (mono - start) + (mono - start < 20_000 ? 0 : big));
    expect(stamps).toEqual(expected);
  });

  it('files Graphite/console intervals under the stepped wall clock', async () => {
    const { startWall, events } = await runThroughSteps();
    const aggregator = createIntervalAggregator({ intervalMs: I, retainMs: 3 * HOUR });
    for (const e of events) aggregator.add(e);
    const points = aggregator.takeDirty();
    // 30 s of ticks in three 10 s eras: an hour apart, each era's intervals near its own wall time.
    const total = points.reduce((n, p) => n + p.count, 0);
    expect(total).toBe(300);
    const byEra = new Map<number, number>();
    for (const p of points) {
      const era = Math.round((p.startWallMs - startWall) / HOUR);
      byEra.set(era, (byEra.get(era) ?? 0) + p.count);
      expect(p.startWallMs % I).toBe(0);
    }
    expect([...byEra].sort((a, b) => a[0] - b[0])).toEqual([
      [-1, 100],
      [0, 100],
      [1, 100],
    ]);
  });

  it('regression: the interval flusher keeps flushing every interval after the wall clock is stepped back', async () => {
    const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
    vi.useFakeTimers({ now: T0 });
    let step = 0;
    // The real clock's timers, which vi's fake timers drive.
    const clock: Clock = { ...systemClock, now: () => Date.now(), wallNow: () => Date.now() + step, sleepUntil: async () => undefined };
    const boundaries: number[] = [];
    const flusher = createIntervalFlusher({ clock, intervalMs: I, onBoundary: (b) => boundaries.push(b) });
    flusher.start();
    await vi.advanceTimersByTimeAsync(2 * I);
    expect(boundaries).toEqual([T0 + I, T0 + 2 * I]);
    step = -HOUR; // stepped back an hour
    await vi.advanceTimersByTimeAsync(3 * I);
    // Before the fix it waited an hour of real time for its old next boundary.
    expect(boundaries.slice(2).map((b) => (b - (T0 - HOUR)) / I)).toEqual([4, 5]);
    step = 0; // and forward again: the latest boundary passed, then aligned as before
    await vi.advanceTimersByTimeAsync(2 * I);
    expect(boundaries.slice(4)).toEqual([T0 + 6 * I, T0 + 7 * I]);
    flusher.stop();
  });
});
