import { describe, expect, it } from 'vitest';
import { InflightEntry, InflightList } from '../../src/probes/inflight-list.js';
import { PendingEntry, PendingList } from '../../src/schedule/pending.js';
import { FakeClock } from '../support/fake-clock.js';

/** An entry that records how it ended, and when (fake ms). */
class Entry extends InflightEntry {
  ended: { how: 'expired' | 'stopped'; at: number } | undefined;
  constructor(
    readonly clock: FakeClock,
    readonly id: number,
    deadline: number,
    signal?: AbortSignal,
  ) {
    super();
    this.deadline = deadline;
    this.signal = signal;
  }
  expire(): void {
    this.ended = { how: 'expired', at: this.clock.now() };
  }
  stop(): void {
    this.ended = { how: 'stopped', at: this.clock.now() };
  }
}

describe('InflightList: one timer for every timeout of a probe', () => {
  it('expires each entry at its own deadline, never before, oldest first', async () => {
    const clock = new FakeClock(0);
    const list = new InflightList(clock);
    const entries = [0, 10, 25, 25, 40].map((start, i) => new Entry(clock, i, start + 100));
    const order: number[] = [];
    for (const [i, e] of entries.entries()) {
      await clock.advance([0, 10, 25, 25, 40][i]! - clock.now());
      const expire = e.expire.bind(e);
      e.expire = () => {
        order.push(e.id);
        expire();
      };
      list.add(e);
    }
    await clock.advance(99 - clock.now());
    expect(entries.every((e) => e.ended === undefined)).toBe(true);
    await clock.advance(200);
    expect(entries.map((e) => e.ended?.at)).toEqual([100, 110, 125, 125, 140]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(list.size).toBe(0);
  });

  it('holds one timer however many executions are in flight, and does not re-arm it when they end', async () => {
    const clock = new FakeClock(0);
    const list = new InflightList(clock);
    for (let i = 0; i < 1_000; i++) {
      const e = new Entry(clock, i, clock.now() + 5_000);
      list.add(e);
      if (i % 2 === 0) list.remove(e);
      await clock.advance(1);
    }
    expect(clock.pending).toBe(1);
    expect(list.size).toBe(500);
  });

  it('an entry removed before its deadline never expires; the timer then waits for the next one', async () => {
    const clock = new FakeClock(0);
    const list = new InflightList(clock);
    const a = new Entry(clock, 1, 100);
    const b = new Entry(clock, 2, 300);
    list.add(a);
    list.add(b);
    list.remove(a);
    list.remove(a);
    await clock.advance(150);
    expect(a.ended).toBeUndefined();
    expect(b.ended).toBeUndefined();
    await clock.advance(150);
    expect(b.ended).toEqual({ how: 'expired', at: 300 });
    expect(clock.pending).toBe(0);
  });

  it('a stop ends at once every entry waiting on that signal, and only those', async () => {
    const clock = new FakeClock(0);
    const list = new InflightList(clock);
    const run = new AbortController();
    const other = new AbortController();
    const mine = [1, 2, 3].map((id) => new Entry(clock, id, 1_000, run.signal));
    const theirs = new Entry(clock, 4, 1_000, other.signal);
    for (const e of [...mine, theirs]) list.add(e);
    await clock.advance(10);
    run.abort();
    expect(mine.map((e) => e.ended)).toEqual(mine.map(() => ({ how: 'stopped', at: 10 })));
    expect(theirs.ended).toBeUndefined();
    expect(list.size).toBe(1);
    await clock.advance(1_000);
    expect(theirs.ended).toEqual({ how: 'expired', at: 1_000 });
  });

  it('close() cancels the timer and stops watching the signals', async () => {
    const clock = new FakeClock(0);
    const list = new InflightList(clock);
    const run = new AbortController();
    const e = new Entry(clock, 1, 100, run.signal);
    list.add(e);
    list.close();
    expect(clock.pending).toBe(0);
    run.abort();
    await clock.advance(200);
    expect(e.ended).toBeUndefined();
  });
});

describe('PendingList: executions in flight for the scheduler sweep', () => {
  class P extends PendingEntry {
    constructor(readonly id: number) {
      super();
    }
  }

  it('keeps the order of adding, removes in any order, and lets a visit remove what it visits', () => {
    const list = new PendingList<P>();
    const ps = [1, 2, 3, 4, 5].map((id) => new P(id));
    for (const p of ps) list.add(p);
    expect(list.remove(ps[2]!)).toBe(true);
    expect(list.remove(ps[2]!)).toBe(false);
    const seen: number[] = [];
    list.forEach((p) => {
      seen.push(p.id);
      if (p.id % 2 === 0) list.remove(p);
    });
    expect(seen).toEqual([1, 2, 4, 5]);
    const left: number[] = [];
    list.forEach((p) => left.push(p.id));
    expect(left).toEqual([1, 5]);
    expect(list.size).toBe(2);
  });
});
