/**
 * The scheduler with shaped jobs (issue 12) on the fake clock: a job's `shape` is planned by
 * shape-plan.ts, `requested` is what the shape owes the window, late starts catch up as for a flat
 * rate, a changed shape is re-planned from now with no catch-up, and an unchanged one keeps running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { createSummaryBooks } from '../../src/metrics/summary.js';
import { createScheduler, type Job } from '../../src/schedule/scheduler.js';
import { phaseFor } from '../../src/schedule/plan.js';
import { ticksIn } from '../../src/schedule/shape-plan.js';
import type { LoadShape } from '../../src/schedule/shape.js';
import { FakeClock } from '../support/fake-clock.js';

const live: { abort(): void }[] = [];
afterEach(() => {
  for (const s of live.splice(0)) s.abort();
});

function shapedJob(name: string, shape: LoadShape, peak: number): Job & { closed: number } {
  const job = {
    key: JSON.stringify([name, shape]),
    name,
    frequency: peak,
    shape,
    concurrency: 1_000,
    timeoutMs: 1_000,
    closed: 0,
    execute: () => Promise.resolve({ ok: true, latencyMs: 0 }),
    close: async () => {
      job.closed++;
    },
  };
  return job;
}

function setup(options: { windowMs?: number; startOffset?: number; hostname?: string; phase?: boolean } = {}) {
  const clock = new FakeClock(10_000);
  const startWall = clock.wallNow() - (options.startOffset ?? 0);
  const window = { startWall, endWall: startWall + (options.windowMs ?? 60_000) };
  const events: MetricEvent[] = [];
  const books = createSummaryBooks();
  const scheduler = createScheduler<Job>({
    clock,
    logger: silentLogger,
    hostname: options.hostname ?? 'host-a',
    ...(options.phase === false && { phase: false }),
    window,
    emit: (_j, e) => {
      events.push(e);
      books.record(e);
    },
  });
  live.push(scheduler);
  const ticks = (test: string) => events.flatMap((e) => (e.kind === 'execution' && e.test === test ? [e.tickWallMs] : []));
  const summary = (test: string) => books.summaries().find((s) => s.name === test);
  const runFor = async (ms: number) => {
    const done = scheduler.run();
    await clock.advance(ms);
    await done;
  };
  return { clock, scheduler, window, events, ticks, summary, runFor };
}

describe('scheduler: shaped jobs', () => {
  it('fires the shape’s even ticks, and its requested is what the shape owes the window', async () => {
    const { scheduler, window, ticks, summary, runFor } = setup();
    const shape: LoadShape = { start: window.startWall + 15_000, rates: { kind: 'steps', perMinute: [120, 600, 0], stepMs: 10_000, then: 'stop' }, arrivals: 'even' };
    scheduler.apply([shapedJob('knee', shape, 600)], { catchUp: true });
    await runFor(60_000);
    // 10 s at 120/min, 10 s at 600/min, then a pause step and stop: 20 + 100.
    expect(ticks('knee')).toHaveLength(120);
    expect(summary('knee')).toMatchObject({ requested: 120, started: 120, missed: 0, dropped: 0 });
    const at = ticks('knee');
    expect(at[0]).toBeGreaterThanOrEqual(shape.start!);
    expect(at.filter((t) => t < shape.start! + 10_000)).toHaveLength(20);
    expect(at.at(-1)).toBeLessThan(shape.start! + 20_000);
  });

  it('a future start owes nothing: requested 0, no execution', async () => {
    const { scheduler, window, ticks, summary, runFor } = setup({ windowMs: 10_000 });
    scheduler.apply([shapedJob('later', { start: window.endWall + 1, rates: { kind: 'constant', perMinute: 600 }, arrivals: 'even' }, 600)], { catchUp: true });
    await runFor(10_000);
    expect(ticks('later')).toEqual([]);
    expect(summary('later')).toMatchObject({ requested: 0, started: 0, missed: 0 });
  });

  it('catches up a late start at up to twice the shape’s rate, and misses what cannot fit', async () => {
    const { scheduler, ticks, summary, runFor } = setup({ startOffset: 40_000 });
    const ramp: LoadShape = { start: Date.UTC(2026, 10, 22, 11, 59, 0), rates: { kind: 'ramp', from: 0, to: 120, rampMs: 60_000, then: 'hold' }, arrivals: 'even' };
    scheduler.apply([shapedJob('r', ramp, 120)], { catchUp: true });
    await runFor(20_000);
    // The window [11:59:20, 12:00:20) owes the ramp from its 20th second (40 to 120/min, 53 ticks) and 20 s at 120/min (40).
    const owed = summary('r')!.requested;
    expect(owed).toBe(ticksIn(ramp, { from: Date.UTC(2026, 10, 22, 11, 59, 20), to: Date.UTC(2026, 10, 22, 12, 0, 20) }, { phase: phaseFor('host-a', 'r', 1), key: { host: 'host-a', test: 'r' } }).length);
    expect(owed).toBeGreaterThan(70);
    // 20 s left: at most twice 120/min = 80 fit; the rest is missed.
    expect(ticks('r').length).toBeLessThanOrEqual(80);
    expect(summary('r')).toMatchObject({ started: ticks('r').length, missed: owed - ticks('r').length });
  });

  it('re-plans a changed shape from now with no catch-up; an unchanged one keeps running', async () => {
    const { clock, scheduler, window, ticks, summary } = setup();
    const base = (perMinute: number[]): LoadShape => ({ start: window.startWall, rates: { kind: 'steps', perMinute, stepMs: 30_000, then: 'hold' }, arrivals: 'even' });
    const kept = shapedJob('kept', base([60, 120]), 120);
    const changing = shapedJob('changing', base([60, 120]), 120);
    scheduler.apply([kept, changing], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(20_000);
    const changed = shapedJob('changing', base([120, 60]), 120);
    scheduler.apply([shapedJob('kept', base([60, 120]), 120), changed], { catchUp: false });
    // The runner's key is the shape: same shape, same key, same runner (the new job is closed at once).
    await clock.advance(40_000);
    await done;
    expect(ticks('kept')).toHaveLength(30 + 60);
    expect(kept.closed).toBe(1);
    // 20 s of 60/min, then from 20 s the new shape: 10 s of 120/min, 30 s of 60/min; no burst for the part before.
    expect(ticks('changing')).toHaveLength(20 + 20 + 30);
    expect(summary('changing')).toMatchObject({ requested: 70, missed: 0 });
  });

  it('Poisson arrivals differ by host and repeat for the same host; with phase off, hosts fire in step', async () => {
    const shape: LoadShape = { rates: { kind: 'constant', perMinute: 6_000 }, arrivals: 'poisson' };
    const runOn = async (hostname: string, phase?: boolean) => {
      const s = setup({ windowMs: 10_000, hostname, ...(phase === false && { phase }) });
      s.scheduler.apply([shapedJob('p', shape, 6_000)], { catchUp: true });
      await s.runFor(10_000);
      expect(s.summary('p')).toMatchObject({ requested: s.ticks('p').length, missed: 0 });
      return s.ticks('p');
    };
    const a = await runOn('web-01');
    expect(a.length).toBeGreaterThan(900);
    expect(a.length).toBeLessThan(1_100);
    expect(await runOn('web-01')).toEqual(a);
    expect(await runOn('web-02')).not.toEqual(a);
    expect(await runOn('web-01', false)).toEqual(await runOn('web-02', false));
  });
});
