import { afterEach, describe, expect, it } from 'vitest';
import type { MetricEvent, ProbeResult } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { createSummaryBooks } from '../../src/metrics/summary.js';
import { createScheduler, type Job } from '../../src/schedule/scheduler.js';
import { FakeClock } from '../support/fake-clock.js';

type Execute = (signal: AbortSignal) => Promise<ProbeResult>;

/** A job that answers at once (ok, or failed with `fail`) unless `onExecute` decides; `closed` counts its close calls. */
function fakeJob(name: string, frequency: number, options: { concurrency?: number; timeoutMs?: number; fail?: string; onExecute?: Execute } = {}) {
  const concurrency = options.concurrency ?? 100;
  const timeoutMs = options.timeoutMs ?? 1_000;
  const job = {
    key: JSON.stringify([frequency, concurrency, timeoutMs, options.fail ?? null]),
    name,
    frequency,
    concurrency,
    timeoutMs,
    closed: 0,
    execute: (signal: AbortSignal): Promise<ProbeResult> =>
      options.onExecute ? options.onExecute(signal) : Promise.resolve(options.fail ? { ok: false, latencyMs: 0, reason: options.fail } : { ok: true, latencyMs: 0 }),
    close: async () => {
      job.closed++;
    },
  };
  return job;
}

/** Every scheduler a test made: none may outlive its test, whatever it asserted or threw. */
const live: { abort(): void }[] = [];
afterEach(() => {
  for (const s of live.splice(0)) s.abort();
});

function setup(options: { windowMs?: number; startOffset?: number; onExecute?: Execute; maxInflight?: number } = {}) {
  const clock = new FakeClock(10_000);
  const job = (name: string, frequency: number, more: Parameters<typeof fakeJob>[2] = {}) =>
    fakeJob(name, frequency, { ...(options.onExecute ? { onExecute: options.onExecute } : {}), ...more });
  const startWall = clock.wallNow() - (options.startOffset ?? 0);
  const events: MetricEvent[] = [];
  const books = createSummaryBooks();
  const dispatchedAt: Record<string, number[]> = {};
  const scheduler = createScheduler<Job>({
    clock,
    logger: silentLogger,
    hostname: 'host-a',
    window: { startWall, endWall: startWall + (options.windowMs ?? 60_000) },
    emit: (j, e) => {
      events.push(e);
      books.record(e);
      if (e.kind === 'execution' || e.kind === 'aborted') (dispatchedAt[j.name] ??= []).push(e.tickWallMs);
    },
    ...(options.maxInflight ? { maxInflight: options.maxInflight } : {}),
  });
  live.push(scheduler);
  const count = (kind: MetricEvent['kind'], test?: string) =>
    events.filter((e) => e.kind === kind && (!test || e.test === test)).reduce((n, e) => n + (e.kind === 'missed' ? e.count : 1), 0);
  return { clock, scheduler, job, events, count, dispatchedAt, summaries: () => books.summaries() };
}

describe('scheduler', () => {
  it('delivers f × window/60 s executions per test, evenly spaced, with no lag on a fake clock', async () => {
    const { clock, scheduler, job, count, events, summaries } = setup({ windowMs: 5_000 });
    scheduler.apply([job('a', 1200), job('b', 600)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    await done;
    expect(count('execution', 'a')).toBe(100);
    expect(count('execution', 'b')).toBe(50);
    const ticksA = events.filter((e) => e.kind === 'execution' && e.test === 'a').map((e) => e.tickWallMs);
    const gaps = ticksA.slice(1).map((t, i) => t - ticksA[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThan(1e-6);
    expect(events.every((e) => e.kind !== 'execution' || e.lagMs === 0)).toBe(true);
    expect(summaries()).toEqual([
      expect.objectContaining({ name: 'a', requested: 100, started: 100, ok: 100, failed: 0, dropped: 0, missed: 0 }),
      expect.objectContaining({ name: 'b', requested: 50, started: 50, ok: 50 }),
    ]);
  });

  it('counts failures by reason', async () => {
    const { clock, scheduler, job, events, summaries } = setup({ windowMs: 1_000 });
    scheduler.apply([job('a', 600, { fail: 'status_503' })], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_000);
    await done;
    const execs = events.filter((e) => e.kind === 'execution');
    expect(execs).toHaveLength(10);
    expect(execs.every((e) => e.kind === 'execution' && !e.ok && e.reason === 'status_503')).toBe(true);
    expect(summaries()[0]).toMatchObject({ failed: 10, ok: 0 });
  });

  it('never waits for a slow execution: beyond `concurrency` in flight a tick is dropped and counted', async () => {
    const pending: ((r: ProbeResult) => void)[] = [];
    const { clock, scheduler, job, count, summaries } = setup({
      windowMs: 10_000,
      onExecute: () => new Promise((resolve) => pending.push(resolve)),
    });
    scheduler.apply([job('slow', 60, { concurrency: 3, timeoutMs: 60_000 })], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(10_000);
    expect(scheduler.inflight).toBe(3);
    expect(count('dropped', 'slow')).toBe(7);
    for (const r of pending) r({ ok: true, latencyMs: 9_000 });
    await done;
    expect(summaries()[0]).toMatchObject({ requested: 10, started: 3, ok: 3, dropped: 7 });
  });

  it('caps the whole agent at max_inflight', async () => {
    const { clock, scheduler, job, count } = setup({ windowMs: 1_000, maxInflight: 2, onExecute: () => new Promise(() => {}) });
    scheduler.apply([job('a', 600), job('b', 600)], { catchUp: true });
    void scheduler.run();
    await clock.advance(1_000);
    expect(scheduler.inflight).toBe(2);
    expect(count('dropped')).toBe(18);
  });

  it('catches up after a late start at no more than twice the rate, and still delivers all f ticks', async () => {
    // The window began 10 s before the scheduler was ready.
    const { clock, scheduler, job, events, summaries } = setup({ windowMs: 60_000, startOffset: 10_000 });
    scheduler.apply([job('a', 60)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(50_000);
    await done;
    const execs = events.filter((e) => e.kind === 'execution');
    expect(execs).toHaveLength(60);
    const dispatch = execs.map((e) => (e.kind === 'execution' ? e.tickWallMs : 0));
    const gaps = dispatch.slice(1).map((t, i) => t - dispatch[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500 - 1e-6);
    expect(summaries()[0]).toMatchObject({ requested: 60, ok: 60, missed: 0 });
  });

  it('counts ticks that cannot fit after a very late start as missed', async () => {
    const { clock, scheduler, job, count } = setup({ windowMs: 60_000, startOffset: 45_000 });
    scheduler.apply([job('a', 60)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(15_000);
    await done;
    expect(count('execution', 'a')).toBe(30);
    expect(count('missed', 'a')).toBe(30);
  });

  it('starts a test added mid-window at its rate from now, with no burst for the part before', async () => {
    const { clock, scheduler, job, count } = setup({ windowMs: 60_000 });
    scheduler.apply([], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(30_000);
    scheduler.apply([job('late', 60)], { catchUp: false });
    await clock.advance(100);
    expect(count('execution', 'late')).toBeLessThanOrEqual(1);
    await clock.advance(29_900);
    await done;
    expect(count('execution', 'late')).toBe(30);
    expect(count('missed', 'late')).toBe(0);
  });

  it('stops scheduling a removed test and re-plans a changed one from now', async () => {
    const { clock, scheduler, job, count, summaries } = setup({ windowMs: 60_000 });
    const gone = job('gone', 60);
    const keep60 = job('keep', 60);
    scheduler.apply([keep60, gone], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(20_000);
    const before = count('execution', 'keep');
    expect(before).toBe(20);
    scheduler.apply([job('keep', 120)], { catchUp: false });
    await clock.advance(40_000);
    await done;
    expect(count('execution', 'gone')).toBe(20);
    expect([gone.closed, keep60.closed]).toEqual([1, 1]);
    // 20 at 60/min, then 40 s at 120/min = 80.
    expect(count('execution', 'keep')).toBe(100);
    expect(summaries().find((s) => s.name === 'keep')).toMatchObject({ requested: 100, ok: 100 });
  });

  it('leaves an unchanged test alone when the config is re-applied', async () => {
    const { clock, scheduler, job, count } = setup({ windowMs: 10_000 });
    const first = job('a', 60);
    scheduler.apply([first], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    const again = job('a', 60);
    scheduler.apply([again], { catchUp: false });
    await clock.advance(5_000);
    await done;
    expect(count('execution', 'a')).toBe(10);
    // The job handed in again is not taken (the running one is kept) and is closed at once; each once.
    expect([first.closed, again.closed]).toEqual([1, 1]);
  });

  it('aborts in-flight executions on abort(), counting them as aborted, and ends at once', async () => {
    const { clock, scheduler, job, count, summaries } = setup({
      windowMs: 60_000,
      onExecute: (signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, latencyMs: 1, reason: 'aborted' }))),
    });
    scheduler.apply([job('a', 60, { timeoutMs: 60_000 })], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    scheduler.abort();
    await done;
    expect(count('aborted', 'a')).toBe(5);
    expect(count('execution', 'a')).toBe(0);
    expect(summaries()[0]).toMatchObject({ aborted: 5, failed: 0 });
  });

  it('starts nothing at or after the window end, but waits for executions in flight', async () => {
    let finish: ((r: ProbeResult) => void) | undefined;
    const { clock, scheduler, job, count } = setup({
      windowMs: 1_000,
      onExecute: () => new Promise((resolve) => (finish = resolve)),
    });
    scheduler.apply([job('a', 60, { timeoutMs: 60_000 })], { catchUp: true });
    let ended = false;
    const done = scheduler.run().then(() => (ended = true));
    await clock.advance(5_000);
    expect(ended).toBe(false);
    finish?.({ ok: true, latencyMs: 4_000 });
    await done;
    expect(count('execution')).toBe(1);
  });

  it('records a paused test (f=0) and runs nothing for it', async () => {
    const { clock, scheduler, job, count, summaries } = setup({ windowMs: 1_000 });
    scheduler.apply([job('p', 0)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_000);
    await done;
    expect(count('execution')).toBe(0);
    expect(summaries()).toEqual([expect.objectContaining({ name: 'p', requested: 0, started: 0 })]);
  });

  it('regression: the last tick is not lost when its timer fires after the window-end timer', async () => {
    // Real timers round to whole ms: a tick due 0.3 ms before the end can wake after the end's timer.
    class LateTickClock extends FakeClock {
      end = Infinity;
      override sleepUntil(t: number, signal?: AbortSignal) {
        return super.sleepUntil(t >= this.end ? t : t + 2, signal);
      }
    }
    const clock = new LateTickClock(10_000);
    const start = clock.now();
    clock.end = start + 1_000;
    let executions = 0;
    const books = createSummaryBooks();
    const scheduler = createScheduler({
      clock,
      logger: silentLogger,
      hostname: 'h',
      window: { startWall: clock.wallNow(), endWall: clock.wallNow() + 1_000 },
      emit: (_job, e) => {
        books.record(e);
        if (e.kind === 'execution') executions++;
      },
    });
    scheduler.apply([fakeJob('a', 6000)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_100);
    await done;
    expect(executions).toBe(100);
    expect(books.summaries()[0]).toMatchObject({ requested: 100, missed: 0 });
  });

  it('starts nothing when it wakes long after the window end (a stalled process), counting those ticks missed', async () => {
    const { clock, scheduler, job, count } = setup({ windowMs: 1_000 });
    scheduler.apply([job('a', 600)], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(500);
    const before = count('execution');
    // Jump far past the end in one step, as a process frozen by SIGSTOP would see it.
    await clock.jump(5_000);
    await done;
    expect(before).toBe(5);
    expect(count('execution')).toBe(5);
    expect(count('missed')).toBe(5);
  });

  it('settles an execution whose probe ignores its own timeout, so the run still ends', async () => {
    const { clock, scheduler, job, events } = setup({ windowMs: 1_000, onExecute: () => new Promise(() => {}) });
    scheduler.apply([job('stuck', 60, { timeoutMs: 500 })], { catchUp: true });
    let ended = false;
    const done = scheduler.run().then(() => (ended = true));
    await clock.advance(1_000);
    expect(ended).toBe(false);
    // Timeout 500 ms + 2 s grace, found by the once-a-second sweep.
    await clock.advance(3_500);
    await done;
    expect(events.filter((e) => e.kind === 'execution')).toEqual([expect.objectContaining({ ok: false, reason: 'timeout' })]);
  });
});
