import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evenTicks, loadAt, peakRate, rateAt, ticksBefore, timeOf, type LoadShape, type ShapeRates } from '../../src/schedule/shape.js';

const MIN = 60_000;
/** Runs of each property; `CANIHAZ_FUZZ_RUNS=5000` is the long run (as parsers.property.test.ts). */
const RUNS = Number(process.env.CANIHAZ_FUZZ_RUNS) > 0 ? Number(process.env.CANIHAZ_FUZZ_RUNS) : 300;
/** A start on a UTC minute, and one 17 s into a minute (a start needs not be on a minute). */
const T0 = Date.UTC(2026, 11, 1, 14, 0);
const T17 = T0 + 17_000;

const even = (rates: ShapeRates, extra: Partial<LoadShape> = {}): LoadShape => ({ start: T0, rates, arrivals: 'even', ...extra });
const steps = (perMinute: number[], stepMs: number, then: 'hold' | 'stop' | 'repeat' = 'hold', cycles?: number): ShapeRates => ({
  kind: 'steps',
  perMinute,
  stepMs,
  then,
  ...(cycles !== undefined && { cycles }),
});
const ramp = (from: number, to: number, rampMs: number, then: 'hold' | 'stop' | 'repeat' = 'hold', cycles?: number): Extract<ShapeRates, { kind: 'ramp' }> => ({
  kind: 'ramp',
  from,
  to,
  rampMs,
  then,
  ...(cycles !== undefined && { cycles }),
});
/** The even ticks a shape owes [from, to), as UTC ms. */
const ticks = (shape: LoadShape, from: number, to: number, phase = 0) => {
  const e = evenTicks(shape, { from, to }, phase);
  return Array.from({ length: e.count }, (_, i) => e.at(i));
};
const count = (shape: LoadShape, from: number, to: number, phase = 0) => evenTicks(shape, { from, to }, phase).count;
/** Ticks per UTC minute over `minutes` minutes from `from`. */
const perMinute = (shape: LoadShape, from: number, minutes: number, phase = 0) =>
  Array.from({ length: minutes }, (_, m) => count(shape, from + m * MIN, from + (m + 1) * MIN, phase));

describe('rateAt', () => {
  const stepped = even(steps([60, 0, 240], 30_000));
  it.each([
    // shape, offset from T0 (ms) → rate per minute
    { name: 'constant, no start', shape: { rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' } satisfies LoadShape, at: -MIN, rate: 60 },
    { name: 'before start', shape: stepped, at: -1, rate: 0 },
    { name: 'first step, at start', shape: stepped, at: 0, rate: 60 },
    { name: 'pause step', shape: stepped, at: 30_000, rate: 0 },
    { name: 'third step', shape: stepped, at: 60_000, rate: 240 },
    { name: 'after the last step: hold', shape: stepped, at: 10 * MIN, rate: 240 },
    { name: 'after the last step: stop', shape: even(steps([60, 120], MIN, 'stop')), at: 2 * MIN, rate: 0 },
    { name: 'repeat: second cycle', shape: even(steps([60, 120], MIN, 'repeat', 3)), at: 3 * MIN, rate: 120 },
    { name: 'repeat: after the cycles', shape: even(steps([60, 120], MIN, 'repeat', 3)), at: 6 * MIN, rate: 0 },
    { name: 'repeat without a count: forever', shape: even(steps([60, 120], MIN, 'repeat')), at: 1_000 * MIN, rate: 60 },
    { name: 'ramp half-way', shape: even(ramp(60, 600, 10 * MIN)), at: 5 * MIN, rate: 330 },
    { name: 'ramp down half-way', shape: even(ramp(600, 60, 10 * MIN)), at: 5 * MIN, rate: 330 },
    { name: 'ramp then hold', shape: even(ramp(60, 600, 10 * MIN)), at: 20 * MIN, rate: 600 },
    { name: 'ramp then repeat: a sawtooth', shape: even(ramp(0, 600, MIN, 'repeat')), at: MIN + 15_000, rate: 150 },
    { name: 'at end', shape: even(steps([60], MIN), { end: T0 + 30_000 }), at: 30_000, rate: 0 },
    { name: 'just before end', shape: even(steps([60], MIN), { end: T0 + 30_000 }), at: 29_999, rate: 60 },
  ])('$name → $rate/min', ({ shape, at, rate }) => {
    expect(rateAt(shape, T0 + at)).toBeCloseTo(rate, 9);
  });
});

describe('loadAt (the integral of the rate, in ticks)', () => {
  it.each([
    { name: 'constant 60/min over 10 min', shape: even({ kind: 'constant', perMinute: 60 }), to: 10 * MIN, load: 600 },
    { name: 'steps 60,120,240 of 1 min', shape: even(steps([60, 120, 240], MIN)), to: 3 * MIN, load: 420 },
    { name: 'steps then hold', shape: even(steps([60, 120], MIN)), to: 4 * MIN, load: 420 },
    { name: 'steps then stop', shape: even(steps([60, 120], MIN, 'stop')), to: 4 * MIN, load: 180 },
    { name: 'steps repeated 3 times', shape: even(steps([60, 120], MIN, 'repeat', 3)), to: 60 * MIN, load: 540 },
    { name: 'ramp 60..600 over 10 min', shape: even(ramp(60, 600, 10 * MIN)), to: 10 * MIN, load: 3_300 },
    { name: 'ramp, half-way', shape: even(ramp(60, 600, 10 * MIN)), to: 5 * MIN, load: (60 + 330) / 2 * 5 },
    { name: 'ramp 0..6000 over 20 s', shape: even(ramp(0, 6_000, 20_000)), to: 20_000, load: 1_000 },
    { name: 'cut at end', shape: even(ramp(60, 600, 10 * MIN), { end: T0 + 5 * MIN }), to: 10 * MIN, load: 975 },
    { name: 'before start', shape: even(ramp(60, 600, 10 * MIN)), to: -5, load: 0 },
  ])('$name → $load', ({ shape, to, load }) => {
    expect(loadAt(shape, T0 + to)).toBeCloseTo(load, 6);
  });

  it('is the inverse of timeOf on every tick', () => {
    const shape = even(ramp(60, 600, 10 * MIN, 'repeat', 2), { end: T0 + 17 * MIN });
    for (let x = 0; x < 6_000; x += 0.37) {
      const t = timeOf(shape, x);
      if (t === Infinity) {
        expect(x).toBeGreaterThanOrEqual(loadAt(shape, T0 + 17 * MIN) - 1e-6);
        continue;
      }
      expect(loadAt(shape, t)).toBeCloseTo(x, 4);
    }
  });
});

describe('even ticks', () => {
  it('a step boundary inside a minute: 30 s at 60/min then 10 s at 120/min, from 20 s into the minute', () => {
    const shape = even(steps([60, 120], 30_000), { start: T0 + 20_000 });
    const t = ticks(shape, T0, T0 + MIN).map((x) => x - T0);
    expect(t).toHaveLength(30 + 20);
    expect(t.slice(0, 2)).toEqual([20_000, 21_000]);
    expect(t.slice(28, 32)).toEqual([48_000, 49_000, 50_000, 50_500]);
    expect(t[49]).toBe(59_500);
  });

  it('a tick that straddles a step boundary lands where the integral reaches it (7/min then 13/min, 10 s steps)', () => {
    const shape = even(steps([7, 13], 10_000));
    const t = ticks(shape, T0, T0 + 20_000).map((x) => x - T0);
    // 10 s at 7/min owes 7/6 ticks: ticks 0 and 1 at 0 and 8571.43 ms; tick 2 needs 5/6 more at
    // 13/min, tick 3 one more; the 20 s owe 20/6 in all.
    expect(t).toHaveLength(4);
    expect(t[1]).toBeCloseTo(60_000 / 7, 3);
    expect(t[2]).toBeCloseTo(10_000 + ((5 / 6) * 60_000) / 13, 3);
    expect(t[3]).toBeCloseTo(10_000 + ((11 / 6) * 60_000) / 13, 3);
  });

  it('a ramp within a minute: 0..6000/min over 20 s fires 1000 ticks at u = sqrt(400000 i)', () => {
    const shape = even(ramp(0, 6_000, 20_000, 'stop'));
    const t = ticks(shape, T0, T0 + MIN).map((x) => x - T0);
    expect(t).toHaveLength(1_000);
    for (const i of [0, 1, 2, 10, 500, 999]) expect(t[i]).toBeCloseTo(Math.sqrt(400_000 * i), 3);
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    expect(gaps.every((g, i) => i === 0 || g <= gaps[i - 1]! + 1e-9)).toBe(true);
  });

  it.each([
    { name: '60..600 over 10 min', r: ramp(60, 600, 10 * MIN), start: T0, minutes: 10, integral: 3_300 },
    { name: '60..600 over 10 min, from 17 s into a minute', r: ramp(60, 600, 10 * MIN), start: T17, minutes: 11, integral: 3_300 },
    { name: '600..60 over 10 min (down)', r: ramp(600, 60, 10 * MIN), start: T17, minutes: 11, integral: 3_300 },
    { name: '1..60000 over 7 min', r: ramp(1, 60_000, 7 * MIN), start: T17, minutes: 8, integral: (60_001 / 2) * 7 },
    { name: '0..97 over 3.5 min', r: ramp(0, 97, 210_000), start: T17, minutes: 4, integral: (97 / 2) * 3.5 },
  ])('ramp $name: the whole span owes its integral (±1), each minute its own (±1)', ({ r, start, minutes, integral }) => {
    const shape = even({ ...r, then: 'stop' }, { start });
    for (const phase of [0, 0.3, 0.999]) {
      expect(Math.abs(count(shape, start, start + minutes * MIN, phase) - integral)).toBeLessThanOrEqual(1);
      const byMinute = perMinute(shape, T0, minutes + 1, phase);
      byMinute.forEach((n, m) => expect(Math.abs(n - (loadAt(shape, T0 + (m + 1) * MIN) - loadAt(shape, T0 + m * MIN)))).toBeLessThanOrEqual(1));
      expect(byMinute.reduce((a, b) => a + b)).toBe(count(shape, T0, T0 + (minutes + 1) * MIN, phase));
    }
  });

  it.each([
    { then: 'hold' as const, cycles: undefined, minutes: [60, 120, 120, 120, 120, 120, 120, 120] },
    { then: 'stop' as const, cycles: undefined, minutes: [60, 120, 0, 0, 0, 0, 0, 0] },
    { then: 'repeat' as const, cycles: 3, minutes: [60, 120, 60, 120, 60, 120, 0, 0] },
    { then: 'repeat' as const, cycles: undefined, minutes: [60, 120, 60, 120, 60, 120, 60, 120] },
  ])('steps 60,120 of 1 min, then=$then repeat=$cycles → $minutes per minute', ({ then, cycles, minutes }) => {
    for (const phase of [0, 0.5, 0.999]) expect(perMinute(even(steps([60, 120], MIN, then, cycles)), T0, 8, phase)).toEqual(minutes);
  });

  it('a ramp then=repeat is a sawtooth: each cycle owes the same', () => {
    expect(perMinute(even(ramp(0, 120, MIN, 'repeat', 2)), T0, 3)).toEqual([60, 60, 0]);
  });

  it('a pause step (0) fires nothing, and the next step starts on its first instant', () => {
    const shape = even(steps([60, 0, 60], MIN, 'stop'));
    expect(perMinute(shape, T0, 4)).toEqual([60, 0, 60, 0]);
    expect(ticks(shape, T0 + MIN, T0 + 3 * MIN)[0]).toBe(T0 + 2 * MIN);
  });

  it('start in the future: nothing before it; the first tick is at start + phase of a tick', () => {
    const shape = even({ kind: 'constant', perMinute: 60 }, { start: T0 + 90 * MIN });
    expect(count(shape, T0, T0 + 90 * MIN)).toBe(0);
    expect(ticks(shape, T0 + 90 * MIN, T0 + 91 * MIN, 0.25)[0]).toBe(T0 + 90 * MIN + 250);
  });

  it('end in the past: nothing at all; end inside a window: nothing at or after it', () => {
    const past = even({ kind: 'constant', perMinute: 600 }, { start: T0 - 60 * MIN, end: T0 - 30 * MIN });
    expect(count(past, T0, T0 + 60 * MIN)).toBe(0);
    const mid = even({ kind: 'constant', perMinute: 60 }, { start: T0, end: T0 + 30_500 });
    expect(ticks(mid, T0, T0 + MIN).map((t) => t - T0)).toEqual(Array.from({ length: 31 }, (_, i) => i * 1_000));
    expect(timeOf(mid, 31)).toBe(Infinity);
  });

  it('a constant integer rate owes exactly that many ticks in every minute, whatever the start and the phase', () => {
    for (const f of [1, 7, 59, 60, 97, 1_200, 60_000]) {
      for (const start of [undefined, T0, T17, T0 + 1_234.5]) {
        const shape: LoadShape = { rates: { kind: 'constant', perMinute: f }, arrivals: 'even', ...(start !== undefined && { start }) };
        for (const phase of [0, 0.5, 0.999]) {
          expect(perMinute(shape, T0 + 2 * MIN, 3, phase), `f=${f} start=${start} phase=${phase}`).toEqual([f, f, f]);
        }
      }
    }
  });

  it('without a start, a constant rate sits on the UTC minute grid as plan.ts places it', () => {
    const shape: LoadShape = { rates: { kind: 'constant', perMinute: 7 }, arrivals: 'even' };
    const t = ticks(shape, T0, T0 + MIN, 0.25).map((x) => x - T0);
    expect(t).toHaveLength(7);
    t.forEach((x, j) => expect(x).toBeCloseTo((j + 0.25) * (60_000 / 7), 3));
  });

  it('ticksBefore is consistent with timeOf at the tick instants themselves', () => {
    const shape = even(ramp(60, 6_000, 5 * MIN, 'repeat', 2));
    for (let n = 0; n < 3_000; n += 7) {
      const t = timeOf(shape, n + 0.4);
      expect(ticksBefore(shape, 0.4, t)).toBe(n);
      expect(ticksBefore(shape, 0.4, t + 1e-3)).toBe(n + 1);
    }
  });

  it('a step or ramp of no length (never parsed, but a pure function stays total) owes nothing', () => {
    for (const bad of [0, -1, NaN, Infinity]) {
      const shape = even(steps([60, 120], bad));
      expect([rateAt(shape, T0 + 1), loadAt(shape, T0 + MIN), count(shape, T0, T0 + MIN)]).toEqual([0, 0, 0]);
    }
  });

  it('peakRate is the highest rate asked for', () => {
    expect(peakRate(even(steps([60, 480, 0], MIN)))).toBe(480);
    expect(peakRate(even(ramp(600, 60, MIN)))).toBe(600);
    expect(peakRate(even({ kind: 'constant', perMinute: 7 }))).toBe(7);
  });
});

/** A random shape around T0, with start, end, then and arrivals as a line may have them. */
const shapeArb: fc.Arbitrary<LoadShape> = fc
  .record({
    rates: fc.oneof(
      fc.record({ kind: fc.constant('constant' as const), perMinute: fc.integer({ min: 0, max: 6_000 }) }),
      fc.record({
        kind: fc.constant('steps' as const),
        perMinute: fc.array(fc.integer({ min: 0, max: 6_000 }), { minLength: 1, maxLength: 6 }),
        stepMs: fc.integer({ min: 1, max: 3 * MIN }),
        then: fc.constantFrom('hold' as const, 'stop' as const, 'repeat' as const),
        cycles: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      }),
      fc.record({
        kind: fc.constant('ramp' as const),
        from: fc.integer({ min: 0, max: 6_000 }),
        to: fc.integer({ min: 0, max: 6_000 }),
        rampMs: fc.integer({ min: 1, max: 5 * MIN }),
        then: fc.constantFrom('hold' as const, 'stop' as const, 'repeat' as const),
        cycles: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      }),
    ),
    start: fc.option(fc.double({ min: T0 - 2 * MIN, max: T0 + 2 * MIN, noNaN: true }), { nil: undefined }),
    endAfter: fc.option(fc.double({ min: 1, max: 6 * MIN, noNaN: true }), { nil: undefined }),
  })
  .map(({ rates, start, endAfter }) => ({
    rates: rates.kind !== 'constant' && rates.cycles === undefined ? (({ cycles: _c, ...r }) => r)(rates) : rates,
    arrivals: 'even' as const,
    ...(start !== undefined && { start }),
    ...(endAfter !== undefined && { end: (start ?? T0) + endAfter }),
  }));

/** Three ascending split points in [T0 - 3 min, T0 + 6 min]. */
const splitsArb = fc
  .tuple(...[0, 1, 2].map(() => fc.double({ min: T0 - 3 * MIN, max: T0 + 6 * MIN, noNaN: true })))
  .map((xs) => xs.sort((a, b) => a - b) as [number, number, number]);

describe('windows split at arbitrary points (property)', () => {
  it('ticks(a, b) ++ ticks(b, c) == ticks(a, c), every tick inside its window, ascending', () => {
    fc.assert(
      fc.property(shapeArb, splitsArb, fc.double({ min: 0, max: 0.999_999, noNaN: true }), (shape, [a, b, c], phase) => {
        const ab = ticks(shape, a, b, phase);
        const bc = ticks(shape, b, c, phase);
        const ac = ticks(shape, a, c, phase);
        expect([...ab, ...bc]).toEqual(ac);
        expect(ab.every((t) => t >= a && t < b)).toBe(true);
        expect(bc.every((t) => t >= b && t < c)).toBe(true);
        expect(ac.every((t, i) => i === 0 || t >= ac[i - 1]!)).toBe(true);
        expect(count(shape, a, b, phase) + count(shape, b, c, phase)).toBe(count(shape, a, c, phase));
        // The count is the integral, within one tick.
        expect(Math.abs(ac.length - (loadAt(shape, c) - loadAt(shape, a)))).toBeLessThanOrEqual(1);
      }),
      { numRuns: RUNS },
    );
  });
});
