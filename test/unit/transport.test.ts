/** The sinks' shared transport pieces and the Clock's timers, on the fake clock: no sleeps. */
import { describe, expect, it } from 'vitest';
import { withDeadline } from '../../src/clock.js';
import { Backoff, DroppedLines, IdleWaiters, LineQueue, WarnLimiter } from '../../src/metrics/transport.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { FakeClock } from '../support/fake-clock.js';

describe('Backoff', () => {
  /** The waits between failures, read off the fake clock. */
  async function waits(backoff: Backoff, clock: FakeClock, n: number, sinceMono?: () => number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const from = clock.now();
      let fired = false;
      backoff.schedule(() => (fired = true), sinceMono?.());
      while (!fired) await clock.advance(50);
      out.push(clock.now() - from);
    }
    return out;
  }

  it('doubles from 100 ms to 5 s, and starts over after reset', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock);
    expect(await waits(backoff, clock, 8)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    backoff.reset();
    expect(await waits(backoff, clock, 2)).toEqual([100, 200]);
  });

  it('starts over after a connection that lived `resetAfterMs`, not after a shorter one', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock, 10_000);
    expect(await waits(backoff, clock, 3)).toEqual([100, 200, 400]);
    const born = clock.now();
    await clock.advance(9_000);
    expect(await waits(backoff, clock, 1, () => born)).toEqual([800]);
    const old = clock.now();
    await clock.advance(10_000);
    expect(await waits(backoff, clock, 1, () => old)).toEqual([100]);
  });

  it('keeps one retry at a time, and a cancelled one never fires', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock);
    let calls = 0;
    backoff.schedule(() => calls++);
    backoff.schedule(() => calls++);
    expect(backoff.pending).toBe(true);
    await clock.advance(100);
    expect(calls).toBe(1);
    backoff.schedule(() => calls++);
    backoff.cancel();
    await clock.advance(10_000);
    expect(calls).toBe(1);
    expect(backoff.pending).toBe(false);
  });
});

describe('WarnLimiter', () => {
  it('says yes at most once per interval', async () => {
    const clock = new FakeClock();
    const limiter = new WarnLimiter(clock, 10_000);
    expect(limiter.ready()).toBe(true);
    expect(limiter.ready()).toBe(false);
    await clock.advance(9_999);
    expect(limiter.ready()).toBe(false);
    await clock.advance(1);
    expect(limiter.ready()).toBe(true);
  });
});

describe('DroppedLines', () => {
  it('counts every line, and warns at most once per 10 s with how many since the last warning and in all', async () => {
    const clock = new FakeClock();
    const logger = capturingLogger();
    const dropped = new DroppedLines(clock, logger, 'lines dropped', 'statsd://x:1');
    dropped.add(0, { reason: 'nothing' }); // no line, no warning
    dropped.add(3, { reason: 'send failed' });
    dropped.add(2, { reason: 'send failed' });
    dropped.count(7); // counted, never warned about
    await clock.advance(9_999);
    dropped.add(1, { reason: 'socket busy' });
    expect(dropped.total).toBe(13);
    await clock.advance(1);
    dropped.add(4, { reason: 'socket busy' });
    expect(logger.warnings).toEqual([
      { msg: 'lines dropped', fields: { destination: 'statsd://x:1', reason: 'send failed', dropped: 3, total_dropped: 3 } },
      { msg: 'lines dropped', fields: { destination: 'statsd://x:1', reason: 'socket busy', dropped: 7, total_dropped: 17 } },
    ]);
  });
});

describe('LineQueue', () => {
  it('drops the oldest beyond its limit, and lines put back count as the oldest', () => {
    const q = new LineQueue(3);
    expect(q.push(['a', 'b', 'c', 'd'])).toBe(1);
    expect(q.shift(2)).toEqual(['b', 'c']);
    expect(q.unshift(['x', 'y', 'z'])).toBe(1);
    expect(q.shift(10)).toEqual(['y', 'z', 'd']);
    expect(q.length).toBe(0);
  });
});

describe('IdleWaiters', () => {
  it('wakes a stop at once when idle, else at the first settle while idle', async () => {
    let busy = 1;
    const idle = new IdleWaiters(() => busy === 0);
    let woken = false;
    void idle.wait().then(() => (woken = true));
    idle.settle();
    await Promise.resolve();
    expect(woken).toBe(false);
    busy = 0;
    idle.settle();
    await Promise.resolve();
    expect(woken).toBe(true);
    await expect(idle.wait()).resolves.toBeUndefined();
  });
});

describe('withDeadline on the fake clock', () => {
  it('gives the promise when it settles first, and cancels its timer', async () => {
    const clock = new FakeClock();
    await expect(withDeadline(clock, Promise.resolve('done'), 1_000, 'late')).resolves.toBe('done');
    expect(clock.pending).toBe(0);
  });

  it('gives `onTimeout` once the clock passes the deadline, at once when none is left', async () => {
    const clock = new FakeClock();
    let result: string | undefined;
    void withDeadline(clock, new Promise<string>(() => undefined), 1_000, 'late').then((r) => (result = r));
    await clock.advance(999);
    expect(result).toBeUndefined();
    await clock.advance(1);
    expect(result).toBe('late');
    await expect(withDeadline(clock, new Promise<string>(() => undefined), 0, 'late')).resolves.toBe('late');
  });

  it('every() repeats until cancelled', async () => {
    const clock = new FakeClock();
    let n = 0;
    const cancel = clock.every(200, () => n++);
    await clock.advance(1_000);
    expect(n).toBe(5);
    cancel();
    await clock.advance(1_000);
    expect(n).toBe(5);
  });
});
