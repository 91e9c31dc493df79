import { describe, expect, it } from 'vitest';
import { parseTestsText, type TestSpec } from '../../src/config/tests-file.js';
import { silentLogger } from '../../src/log.js';
import type { MetricEvent } from '../../src/metrics/sink.js';
import type { ProbeResult } from '../../src/probes/probe.js';
import { createScheduler } from '../../src/schedule/scheduler.js';
import { FakeClock } from '../support/fake-clock.js';
import { fakeProbeType } from '../support/fake-probe.js';

function setup(options: { windowMs?: number; startOffset?: number; onExecute?: (signal: AbortSignal) => Promise<ProbeResult>; maxInflight?: number } = {}) {
  const clock = new FakeClock(10_000);
  const type = fakeProbeType(options.onExecute ? { onExecute: options.onExecute } : {});
  const specs = (text: string): TestSpec[] => {
    const { specs, errors } = parseTestsText(text, 't.conf', { lookupProbeType: () => type });
    expect(errors).toEqual([]);
    return specs;
  };
  const start = clock.now() - (options.startOffset ?? 0);
  const events: MetricEvent[] = [];
  const dispatchedAt: Record<string, number[]> = {};
  const scheduler = createScheduler({
    clock,
    logger: silentLogger,
    hostname: 'host-a',
    window: { start, end: start + (options.windowMs ?? 60_000) },
    emit: (spec, e) => {
      events.push(e);
      if (e.kind === 'execution' || e.kind === 'aborted') (dispatchedAt[spec.name] ??= []).push(e.tickWallMs);
    },
    ...(options.maxInflight ? { maxInflight: options.maxInflight } : {}),
  });
  const count = (kind: MetricEvent['kind'], test?: string) =>
    events.filter((e) => e.kind === kind && (!test || e.test === test)).reduce((n, e) => n + (e.kind === 'missed' ? e.count : 1), 0);
  return { clock, scheduler, specs, events, count, dispatchedAt };
}

describe('scheduler', () => {
  it('delivers f × window/60 s executions per test, evenly spaced, with no lag on a fake clock', async () => {
    const { clock, scheduler, specs, count, events } = setup({ windowMs: 5_000 });
    scheduler.apply(specs('a|fake|1200|none\nb|fake|600|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    await done;
    expect(count('execution', 'a')).toBe(100);
    expect(count('execution', 'b')).toBe(50);
    const ticksA = events.filter((e) => e.kind === 'execution' && e.test === 'a').map((e) => e.tickWallMs);
    const gaps = ticksA.slice(1).map((t, i) => t - ticksA[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThan(1e-6);
    expect(events.every((e) => e.kind !== 'execution' || e.lagMs === 0)).toBe(true);
    expect(scheduler.summaries()).toEqual([
      expect.objectContaining({ name: 'a', requested: 100, started: 100, ok: 100, failed: 0, dropped: 0, missed: 0 }),
      expect.objectContaining({ name: 'b', requested: 50, started: 50, ok: 50 }),
    ]);
  });

  it('counts failures by reason', async () => {
    const { clock, scheduler, specs, events } = setup({ windowMs: 1_000 });
    scheduler.apply(specs('a|fake|600|none|fail=status_503'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_000);
    await done;
    const execs = events.filter((e) => e.kind === 'execution');
    expect(execs).toHaveLength(10);
    expect(execs.every((e) => e.kind === 'execution' && !e.ok && e.reason === 'status_503')).toBe(true);
    expect(scheduler.summaries()[0]).toMatchObject({ failed: 10, ok: 0 });
  });

  it('never waits for a slow execution: beyond `concurrency` in flight a tick is dropped and counted', async () => {
    const pending: ((r: ProbeResult) => void)[] = [];
    const { clock, scheduler, specs, count } = setup({
      windowMs: 10_000,
      onExecute: () => new Promise((resolve) => pending.push(resolve)),
    });
    scheduler.apply(specs('slow|fake|60|none|concurrency=3|timeout=60000'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(10_000);
    expect(scheduler.inflight).toBe(3);
    expect(count('dropped', 'slow')).toBe(7);
    for (const r of pending) r({ ok: true, latencyMs: 9_000 });
    await done;
    expect(scheduler.summaries()[0]).toMatchObject({ requested: 10, started: 3, ok: 3, dropped: 7 });
  });

  it('caps the whole agent at max_inflight', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 1_000, maxInflight: 2, onExecute: () => new Promise(() => {}) });
    scheduler.apply(specs('a|fake|600|none\nb|fake|600|none'), { catchUp: true });
    void scheduler.run();
    await clock.advance(1_000);
    expect(scheduler.inflight).toBe(2);
    expect(count('dropped')).toBe(18);
  });

  it('catches up after a late start at no more than twice the rate, and still delivers all f ticks', async () => {
    // The window began 10 s before the scheduler was ready.
    const { clock, scheduler, specs, events } = setup({ windowMs: 60_000, startOffset: 10_000 });
    scheduler.apply(specs('a|fake|60|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(50_000);
    await done;
    const execs = events.filter((e) => e.kind === 'execution');
    expect(execs).toHaveLength(60);
    const dispatch = execs.map((e) => (e.kind === 'execution' ? e.tickWallMs : 0));
    const gaps = dispatch.slice(1).map((t, i) => t - dispatch[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500 - 1e-6);
    expect(scheduler.summaries()[0]).toMatchObject({ requested: 60, ok: 60, missed: 0 });
  });

  it('counts ticks that cannot fit after a very late start as missed', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 60_000, startOffset: 45_000 });
    scheduler.apply(specs('a|fake|60|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(15_000);
    await done;
    expect(count('execution', 'a')).toBe(30);
    expect(count('missed', 'a')).toBe(30);
  });

  it('starts a test added mid-window at its rate from now, with no burst for the part before', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 60_000 });
    scheduler.apply([], { catchUp: true });
    const done = scheduler.run();
    await clock.advance(30_000);
    scheduler.apply(specs('late|fake|60|none'), { catchUp: false });
    await clock.advance(100);
    expect(count('execution', 'late')).toBeLessThanOrEqual(1);
    await clock.advance(29_900);
    await done;
    expect(count('execution', 'late')).toBe(30);
    expect(count('missed', 'late')).toBe(0);
  });

  it('stops scheduling a removed test and re-plans a changed one from now', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 60_000 });
    scheduler.apply(specs('keep|fake|60|none\ngone|fake|60|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(20_000);
    const before = count('execution', 'keep');
    expect(before).toBe(20);
    scheduler.apply(specs('keep|fake|120|none'), { catchUp: false });
    await clock.advance(40_000);
    await done;
    expect(count('execution', 'gone')).toBe(20);
    // 20 at 60/min, then 40 s at 120/min = 80.
    expect(count('execution', 'keep')).toBe(100);
    expect(scheduler.summaries().find((s) => s.name === 'keep')).toMatchObject({ requested: 100, ok: 100 });
  });

  it('leaves an unchanged test alone when the config is re-applied', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 10_000 });
    scheduler.apply(specs('a|fake|60|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    scheduler.apply(specs('# comment added\na|fake|60|none'), { catchUp: false });
    await clock.advance(5_000);
    await done;
    expect(count('execution', 'a')).toBe(10);
  });

  it('aborts in-flight executions on abort(), counting them as aborted, and ends at once', async () => {
    const { clock, scheduler, specs, count } = setup({
      windowMs: 60_000,
      onExecute: (signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, latencyMs: 1, reason: 'aborted' }))),
    });
    scheduler.apply(specs('a|fake|60|none|timeout=60000'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(5_000);
    scheduler.abort();
    await done;
    expect(count('aborted', 'a')).toBe(5);
    expect(count('execution', 'a')).toBe(0);
    expect(scheduler.summaries()[0]).toMatchObject({ aborted: 5, failed: 0 });
  });

  it('starts nothing at or after the window end, but waits for executions in flight', async () => {
    let finish: ((r: ProbeResult) => void) | undefined;
    const { clock, scheduler, specs, count } = setup({
      windowMs: 1_000,
      onExecute: () => new Promise((resolve) => (finish = resolve)),
    });
    scheduler.apply(specs('a|fake|60|none|timeout=60000'), { catchUp: true });
    let ended = false;
    const done = scheduler.run().then(() => (ended = true));
    await clock.advance(5_000);
    expect(ended).toBe(false);
    finish?.({ ok: true, latencyMs: 4_000 });
    await done;
    expect(count('execution')).toBe(1);
  });

  it('records a paused test (f=0) and runs nothing for it', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 1_000 });
    scheduler.apply(specs('p|fake|0|none'), { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_000);
    await done;
    expect(count('execution')).toBe(0);
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
    const type = fakeProbeType();
    const { specs } = parseTestsText('a|fake|6000|none', 't.conf', { lookupProbeType: () => type });
    let executions = 0;
    const scheduler = createScheduler({
      clock,
      logger: silentLogger,
      hostname: 'h',
      window: { start, end: clock.end },
      emit: (_spec, e) => void (e.kind === 'execution' && executions++),
    });
    scheduler.apply(specs, { catchUp: true });
    const done = scheduler.run();
    await clock.advance(1_100);
    await done;
    expect(executions).toBe(100);
    expect(scheduler.summaries()[0]).toMatchObject({ requested: 100, missed: 0 });
  });

  it('starts nothing when it wakes long after the window end (a stalled process), counting those ticks missed', async () => {
    const { clock, scheduler, specs, count } = setup({ windowMs: 1_000 });
    scheduler.apply(specs('a|fake|600|none'), { catchUp: true });
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
    const { clock, scheduler, specs, events } = setup({ windowMs: 1_000, onExecute: () => new Promise(() => {}) });
    scheduler.apply(specs('stuck|fake|60|none|timeout=500'), { catchUp: true });
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
