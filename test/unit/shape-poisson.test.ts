import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrivalSeed, fnv1a32, mulberry32, poissonTicks } from '../../src/schedule/shape-poisson.js';
import { loadAt, type LoadShape, type ShapeRates } from '../../src/schedule/shape.js';

const MIN = 60_000;
/** Runs of each property; `CANIHAZ_FUZZ_RUNS=5000` is the long run (as parsers.property.test.ts). */
const RUNS = Number(process.env.CANIHAZ_FUZZ_RUNS) > 0 ? Number(process.env.CANIHAZ_FUZZ_RUNS) : 150;
const T0 = Date.UTC(2026, 11, 1, 14, 0);
const KEY = { host: 'web-1', test: 'home' };
const poisson = (rates: ShapeRates, extra: Partial<LoadShape> = {}): LoadShape => ({ start: T0, rates, arrivals: 'poisson', ...extra });
const constant = (perMinute: number) => poisson({ kind: 'constant', perMinute });
const times = (shape: LoadShape, from: number, to: number, key = KEY) => Array.from(poissonTicks(shape, { from, to }, key).times);
const gapsOf = (t: number[]) => t.slice(1).map((x, i) => x - t[i]!);
const cv = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return sd / mean;
};

/** mulberry32 as published (bryc, "PRNGs" collection), kept verbatim to check ours against. */
function referenceMulberry32(a: number) {
  return function () {
    let t = (a += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the generator', () => {
  it.each([
    // The FNV-1a 32-bit test vectors of the reference (draft-eastlake-fnv).
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('fnv1a32(%j) = %i', (text, hash) => {
    expect(fnv1a32(text)).toBe(hash);
  });

  it('mulberry32 draws what the published code draws', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, arrivalSeed('web-1', 'home', 29_000_000)]) {
      const ours = mulberry32(seed);
      const ref = referenceMulberry32(seed);
      for (let i = 0; i < 1_000; i++) expect(ours()).toBe(ref());
    }
  });

  it('seeds differ by host, test and minute', () => {
    const seeds = new Set([arrivalSeed('a', 't', 1), arrivalSeed('b', 't', 1), arrivalSeed('a', 'u', 1), arrivalSeed('a', 't', 2)]);
    expect(seeds.size).toBe(4);
  });
});

describe('poisson arrivals', () => {
  it('are reproducible: the same host, test and minute give the same times', () => {
    const a = times(constant(600), T0, T0 + 3 * MIN);
    expect(times(constant(600), T0, T0 + 3 * MIN)).toEqual(a);
    // And a part of the window gives that part of the times.
    expect(times(constant(600), T0 + 70_000, T0 + 80_000)).toEqual(a.filter((t) => t >= T0 + 70_000 && t < T0 + 80_000));
  });

  it('differ across hosts and tests', () => {
    const a = times(constant(600), T0, T0 + MIN);
    const b = times(constant(600), T0, T0 + MIN, { host: 'web-2', test: 'home' });
    const c = times(constant(600), T0, T0 + MIN, { host: 'web-1', test: 'other' });
    expect(a.filter((t) => b.includes(t) || c.includes(t))).toEqual([]);
  });

  it('6000/min over 10 s: 1000 ± 100 arrivals, gaps with a coefficient of variation between 0.85 and 1.15', () => {
    for (const host of ['web-1', 'web-2', 'web-3', 'db-1']) {
      const t = times(constant(6_000), T0 + 5_000, T0 + 15_000, { host, test: 'home' });
      expect(Math.abs(t.length - 1_000), host).toBeLessThanOrEqual(100);
      const c = cv(gapsOf(t));
      expect(c, host).toBeGreaterThan(0.85);
      expect(c, host).toBeLessThan(1.15);
    }
  });

  it('the mean count over 2000 minutes is within 4 standard deviations of the rate (deterministic seeds: cannot flake)', () => {
    const n = times(constant(60), T0, T0 + 2_000 * MIN).length;
    // Poisson: mean 120000, standard deviation sqrt(120000) ≈ 346.
    expect(Math.abs(n - 120_000)).toBeLessThan(4 * 346);
  });

  it('a counts histogram per minute has the Poisson variance (≈ its mean)', () => {
    const t = times(constant(100), T0, T0 + 1_000 * MIN);
    const counts = new Array<number>(1_000).fill(0);
    for (const x of t) counts[Math.floor((x - T0) / MIN)]!++;
    const mean = counts.reduce((a, b) => a + b) / counts.length;
    const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / (counts.length - 1);
    expect(variance / mean).toBeGreaterThan(0.85);
    expect(variance / mean).toBeLessThan(1.15);
  });

  it('follow a ramp by time rescaling: 0..600/min over 10 min owes 3000 per host, more late than early', () => {
    const shape = poisson({ kind: 'ramp', from: 0, to: 600, rampMs: 10 * MIN, then: 'stop' });
    let total = 0;
    let firstHalf = 0;
    for (let h = 0; h < 40; h++) {
      const t = times(shape, T0 - MIN, T0 + 12 * MIN, { host: `h${h}`, test: 'ramp' });
      total += t.length;
      firstHalf += t.filter((x) => x < T0 + 5 * MIN).length;
      expect(t.every((x) => x >= T0 && x < T0 + 10 * MIN)).toBe(true);
    }
    // 40 hosts × 3000: sd ≈ 346; the first half owes a quarter of it (750 per host).
    expect(Math.abs(total - 120_000)).toBeLessThan(4 * 346);
    expect(Math.abs(firstHalf - 30_000)).toBeLessThan(4 * 173);
  });

  it('nothing before start, in a pause step, or after end', () => {
    const shape = poisson({ kind: 'steps', perMinute: [600, 0, 600], stepMs: MIN, then: 'stop' }, { end: T0 + 150_000 });
    const t = times(shape, T0 - 5 * MIN, T0 + 10 * MIN);
    expect(t.filter((x) => x < T0 || (x >= T0 + MIN && x < T0 + 2 * MIN) || x >= T0 + 150_000)).toEqual([]);
    expect(t.length).toBeGreaterThan(0);
  });

  it('arrival loads are where the integral stands at each arrival', () => {
    const shape = poisson({ kind: 'ramp', from: 60, to: 600, rampMs: 5 * MIN, then: 'hold' });
    const { times: ts, loads } = poissonTicks(shape, { from: T0, to: T0 + 6 * MIN }, KEY);
    ts.forEach((t, i) => expect(loadAt(shape, t)).toBeCloseTo(loads[i]!, 4));
  });

  it('split at arbitrary points, the parts give the whole (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_000 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.tuple(...[0, 1, 2].map(() => fc.double({ min: T0 - MIN, max: T0 + 4 * MIN, noNaN: true }))),
        (from, to, xs) => {
          const [a, b, c] = xs.sort((x, y) => x - y) as [number, number, number];
          const shape = poisson({ kind: 'ramp', from, to, rampMs: 2 * MIN, then: 'repeat' });
          expect([...times(shape, a, b), ...times(shape, b, c)]).toEqual(times(shape, a, c));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
