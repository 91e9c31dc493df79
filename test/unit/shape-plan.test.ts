import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { phaseFor, planTicks } from '../../src/schedule/plan.js';
import { planShape, ticksIn, type ShapePlanInput } from '../../src/schedule/shape-plan.js';
import { evenTicks, type LoadShape } from '../../src/schedule/shape.js';
import type { Plan } from '../../src/schedule/plan.js';

const MIN = 60_000;
/** Runs of each property; `CANIHAZ_FUZZ_RUNS=5000` is the long run (as parsers.property.test.ts). */
const RUNS = Number(process.env.CANIHAZ_FUZZ_RUNS) > 0 ? Number(process.env.CANIHAZ_FUZZ_RUNS) : 300;
const T0 = Date.UTC(2026, 11, 1, 14, 0);
/** A monotonic window [0, 60000) that is the UTC minute T0 on the wall clock. */
const W = { windowStart: 0, windowEnd: MIN, wallOffsetMs: T0 };
const KEY = { host: 'web-1', test: 'home' };
const flat = (f: number): LoadShape => ({ rates: { kind: 'constant', perMinute: f }, arrivals: 'even' });
const plan = (shape: LoadShape, over: Partial<ShapePlanInput> = {}) => planShape({ ...W, from: 0, catchUp: true, shape, phase: 0, key: KEY, ...over });
const all = (p: Plan) => Array.from({ length: p.count }, (_, i) => p.tickAt(i));

describe('planShape with a flat rate plans as plan.ts does', () => {
  it('the same counts, missed, requested and tick instants (within float noise of UTC ms)', () => {
    let plans = 0;
    for (const f of [1, 7, 60, 97, 600, 1_200, 60_000]) {
      const period = MIN / f;
      for (const phase of [0, 0.13, 0.5, 0.999]) {
        for (const from of [0, 1, 2_400, 17_345.5, 45_000, 59_000, 59_999.5]) {
          for (const catchUp of [true, false]) {
            const old = planTicks({ windowStart: 0, windowEnd: MIN, frequency: f, phaseMs: phase * period, from, catchUp });
            const neu = plan(flat(f), { phase, from, catchUp });
            const where = `f=${f} phase=${phase} from=${from} catchUp=${catchUp}`;
            // plan.ts's catch-up grid is k · period/2 in floats: at 7/min, half-grid instant 14 is
            // 59999.99999999999 and fits; here it is the integral's 60000 exactly, the window end.
            // Its ticks that close to the end are the same instant as the end.
            let oldCount = old.count;
            while (oldCount > 0 && old.tickAt(oldCount - 1) >= MIN - 1e-6) oldCount--;
            expect({ count: neu.count, missed: neu.missed, requested: neu.requested }, where).toEqual({ count: oldCount, missed: old.requested - oldCount, requested: old.requested });
            for (const i of new Set([0, 1, Math.floor(oldCount / 2), oldCount - 1].filter((i) => i >= 0 && i < oldCount))) {
              expect(Math.abs(neu.tickAt(i) - old.tickAt(i)), `${where} tick ${i}`).toBeLessThan(1e-3);
            }
            plans++;
          }
        }
      }
    }
    expect(plans).toBe(7 * 4 * 7 * 2);
  });

  it('the phase fraction is plan.ts phaseFor at a period of 1', () => {
    const phase = phaseFor('web-1', 'home', 1);
    expect(plan(flat(60), { phase }).tickAt(0)).toBeCloseTo(phaseFor('web-1', 'home', 1_000), 3);
  });
});

describe('planShape: late starts and the shape', () => {
  const stepped: LoadShape = { start: T0 + 20_000, rates: { kind: 'steps', perMinute: [60, 0, 240], stepMs: 10_000, then: 'stop' }, arrivals: 'even' };

  it('owes the window what the shape owes it: 10 + 0 + 40 ticks', () => {
    const p = plan(stepped);
    expect({ requested: p.requested, count: p.count, missed: p.missed }).toEqual({ requested: 50, count: 50, missed: 0 });
    expect(p.tickAt(9)).toBe(29_000);
    expect(p.tickAt(10)).toBe(40_000);
  });

  it('catch-up: ticks owed before `from` go out at twice the shape rate from `from`, then join it', () => {
    // Ready at 25 s: 5 ticks of the 60/min step are behind; the half grid of 60/min is 500 ms, and
    // the pause owes nothing, so the catch-up meets the nominal schedule only when the 240/min step does.
    const p = plan(stepped, { from: 25_000 });
    const t = all(p);
    expect(p.requested).toBe(50);
    expect(t.slice(0, 11)).toEqual([25_000, 25_500, 26_000, 26_500, 27_000, 27_500, 28_000, 28_500, 29_000, 29_500, 40_000]);
    expect(t.every((x) => x >= 25_000 && x < MIN)).toBe(true);
    expect(p.count + p.missed).toBe(p.requested);
  });

  it('without catch-up (a test added mid-window): only the ticks from `from` on, no burst', () => {
    const p = plan(stepped, { from: 25_000, catchUp: false });
    expect({ requested: p.requested, count: p.count, missed: p.missed }).toEqual({ requested: 45, count: 45, missed: 0 });
    expect(p.tickAt(0)).toBe(25_000);
  });

  it('catch-up cannot run past the shape end: what does not fit is missed', () => {
    const ending: LoadShape = { start: T0, end: T0 + 30_000, rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' };
    // 30 owed; ready at 20 s: 10 s left before the end at 2/s = 20 ticks.
    const p = plan(ending, { from: 20_000 });
    expect({ requested: p.requested, count: p.count, missed: p.missed }).toEqual({ requested: 30, count: 20, missed: 10 });
    expect(p.tickAt(p.count - 1)).toBe(29_500);
  });

  it('a future start owes nothing; a past end owes nothing', () => {
    expect(plan({ start: T0 + 5 * MIN, rates: { kind: 'constant', perMinute: 600 }, arrivals: 'even' }).requested).toBe(0);
    expect(plan({ start: T0 - 5 * MIN, end: T0 - MIN, rates: { kind: 'constant', perMinute: 600 }, arrivals: 'even' }).requested).toBe(0);
  });

  it('ticks come back on the monotonic clock of the window', () => {
    const p = planShape({ windowStart: 5_000, windowEnd: 65_000, wallOffsetMs: T0 - 5_000, from: 5_000, catchUp: true, shape: stepped, phase: 0, key: KEY });
    expect(p.tickAt(0)).toBe(25_000);
    expect(p.count).toBe(50);
  });

  it('ticksIn is what a plan made on time fires, and its requested, for even and Poisson arrivals', () => {
    for (const arrivals of ['even', 'poisson'] as const) {
      const shape: LoadShape = { ...stepped, arrivals };
      const t = ticksIn(shape, { from: T0, to: T0 + MIN }, { phase: 0.3, key: KEY });
      const p = plan(shape, { phase: 0.3 });
      expect(p.requested).toBe(t.length);
      expect(all(p)).toEqual(t.map((x) => x - T0));
    }
  });

  it('an empty window plans nothing', () => {
    expect(plan(stepped, { windowEnd: 0 }).count).toBe(0);
  });
});

const rampArb = fc.record({
  from: fc.integer({ min: 0, max: 3_000 }),
  to: fc.integer({ min: 0, max: 3_000 }),
  rampMs: fc.integer({ min: 1_000, max: 3 * MIN }),
  startOffset: fc.integer({ min: -MIN, max: MIN }),
  phase: fc.double({ min: 0, max: 0.999, noNaN: true }),
  from0: fc.double({ min: 0, max: MIN, noNaN: true }),
  poisson: fc.boolean(),
});

describe('catch-up rules hold for any shape (property)', () => {
  it('nothing before `from` or at the window end, ascending, never ahead of the shape, count + missed = requested', () => {
    fc.assert(
      fc.property(rampArb, ({ from, to, rampMs, startOffset, phase, from0, poisson }) => {
        const shape: LoadShape = { start: T0 + startOffset, rates: { kind: 'ramp', from, to, rampMs, then: 'stop' }, arrivals: poisson ? 'poisson' : 'even' };
        const p = plan(shape, { phase, from: from0 });
        const t = all(p);
        const onTime = plan(shape, { phase, from: 0 });
        expect(p.count + p.missed).toBe(p.requested);
        expect(p.requested).toBe(onTime.count);
        // Planned in UTC ms (ulp 2.4e-4 ms in 2026): `from` is honoured to that precision on the monotonic clock.
        expect(t.every((x, i) => x >= from0 - 1e-3 && x < MIN && (i === 0 || x >= t[i - 1]!))).toBe(true);
        // Never ahead of the shape's own schedule.
        expect(t.every((x, i) => x >= onTime.tickAt(i) - 1e-3)).toBe(true);
        if (!poisson) expect(onTime.count).toBe(evenTicks(shape, { from: T0, to: T0 + MIN }, phase).count);
      }),
      { numRuns: RUNS },
    );
  });
});
