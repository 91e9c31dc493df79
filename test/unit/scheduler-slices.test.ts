/**
 * A large apply starts its runners in slices (START_SLICE_MS), earliest first tick first, so ticks
 * that fall due while thousands of tests start are not held up by all of them. A clock whose every
 * reading costs 0.05 ms stands in for the CPU that starting a runner takes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { phaseFor } from '../../src/schedule/plan.js';
import { createScheduler, type Job } from '../../src/schedule/scheduler.js';
import { FakeClock } from '../support/fake-clock.js';

/** A fake clock on which reading the time costs time, as starting a real runner does. */
class BusyClock extends FakeClock {
  #spent = 0;
  override now(): number {
    this.#spent += 0.05;
    return super.now() + this.#spent;
  }
  override wallNow(): number {
    return super.wallNow() + this.#spent;
  }
}

const HOST = 'host-a';
const live: { abort(): void }[] = [];
afterEach(() => {
  for (const s of live.splice(0)) s.abort();
});

function jobs(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const job = {
      key: 'k',
      name: `t${i}`,
      frequency: 60,
      concurrency: 10,
      timeoutMs: 1_000,
      closed: 0,
      execute: () => Promise.resolve({ ok: true, latencyMs: 0 }),
      close: async () => {
        job.closed++;
      },
    };
    return job;
  });
}

function setup() {
  const clock = new BusyClock(10_000);
  const startWall = clock.wallNow();
  const planned: string[] = [];
  const scheduler = createScheduler<Job>({
    clock,
    logger: silentLogger,
    hostname: HOST,
    window: { startWall, endWall: startWall + 60_000 },
    emit: (_job, e: MetricEvent) => {
      if (e.kind === 'planned' && e.ticks > 0) planned.push(e.test);
    },
  });
  live.push(scheduler);
  return { scheduler, planned };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function turnsUntil(done: () => boolean): Promise<number> {
  for (let turns = 1; turns <= 1_000; turns++) {
    await turn();
    if (done()) return turns;
  }
  throw new Error('never done');
}

describe('scheduler: a large apply starts in slices', () => {
  it('starts part of the jobs at once, the earliest first ticks first, and the rest on later turns', async () => {
    const { scheduler, planned } = setup();
    const all = jobs(400);
    scheduler.apply(all, { catchUp: true });
    expect(planned.length).toBeGreaterThanOrEqual(16);
    expect(planned.length).toBeLessThan(400);
    const turns = await turnsUntil(() => planned.length === 400);
    expect(turns).toBeGreaterThan(1);
    const byFirstTick = all.map((j) => j.name).sort((a, b) => phaseFor(HOST, a, 1_000) - phaseFor(HOST, b, 1_000));
    expect(planned).toEqual(byFirstTick);
    expect(new Set(planned).size).toBe(400);
  });

  it('a job removed while still queued is closed and never started; the others start once', async () => {
    const { scheduler, planned } = setup();
    const all = jobs(400);
    scheduler.apply(all, { catchUp: true });
    const startedAtOnce = new Set(planned);
    const kept = all.filter((j, i) => startedAtOnce.has(j.name) || i % 2 === 0);
    const removedQueued = all.filter((j) => !kept.includes(j));
    expect(removedQueued.length).toBeGreaterThan(0);
    scheduler.apply(kept, { catchUp: false });
    await turnsUntil(() => planned.length === kept.length);
    await turn();
    expect(planned.length).toBe(kept.length);
    expect(new Set(planned)).toEqual(new Set(kept.map((j) => j.name)));
    for (const j of removedQueued) expect(j.closed).toBe(1);
  });

  it('abort closes the jobs still queued and starts none of them', async () => {
    const { scheduler, planned } = setup();
    const all = jobs(400);
    scheduler.apply(all, { catchUp: true });
    const started = planned.length;
    scheduler.abort();
    for (let i = 0; i < 5; i++) await turn();
    expect(planned.length).toBe(started);
    const queued = all.filter((j) => !planned.includes(j.name));
    expect(queued.length).toBe(400 - started);
    for (const j of queued) expect(j.closed).toBe(1);
  });
});
