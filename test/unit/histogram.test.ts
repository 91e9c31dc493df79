import { describe, expect, it } from 'vitest';
import { createHistogram, HISTOGRAM_MAX_BUCKETS, HISTOGRAM_MAX_MS } from '../../src/metrics/histogram.js';

/** A small seeded PRNG (mulberry32), so every run sees the same samples. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest-rank percentile of sorted values: the one at rank ceil(p/100 · n). */
function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

const r = random(42);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

const distributions: { name: string; n: number; sample: (i: number) => number }[] = [
  { name: 'uniform 1..1000 ms', n: 1000, sample: (i) => i + 1 },
  { name: 'constant 1.21 ms', n: 500, sample: () => 1.21 },
  { name: 'exponential, mean 20 ms', n: 20_000, sample: () => -20 * Math.log(1 - r()) },
  { name: 'log-normal around 5 ms', n: 20_000, sample: () => Math.exp(Math.log(5) + 0.8 * gaussian()) },
  { name: 'bimodal 1 ms / 200 ms', n: 10_000, sample: (i) => (i % 10 === 0 ? 200 + r() * 50 : 1 + r() * 0.5) },
  { name: 'microseconds 1..100 µs', n: 10_000, sample: () => 0.001 + r() * 0.099 },
  { name: 'minutes 1..59 min', n: 5_000, sample: () => 60_000 + r() * 58 * 60_000 },
];

describe('histogram percentiles are within 1% of the exact values', () => {
  for (const d of distributions) {
    it(d.name, () => {
      const values = Array.from({ length: d.n }, (_, i) => d.sample(i));
      const h = createHistogram();
      for (const v of values) h.record(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const p of [1, 10, 50, 90, 99, 99.9]) {
        const exact = exactPercentile(sorted, p);
        expect(Math.abs(h.percentile(p) - exact) / exact, `p${p}: got ${h.percentile(p)}, exact ${exact}`).toBeLessThanOrEqual(0.01);
      }
      expect(h.count).toBe(d.n);
      expect(h.min).toBe(sorted[0]);
      expect(h.max).toBe(sorted[sorted.length - 1]);
      const sum = values.reduce((a, b) => a + b, 0);
      expect(h.sum).toBeCloseTo(sum, 6);
      expect(h.mean).toBeCloseTo(sum / d.n, 9);
      expect(h.percentile(0)).toBe(h.min);
      expect(h.percentile(100)).toBe(h.max);
    });
  }
});

describe('histogram edge cases', () => {
  it.each([
    { name: 'empty', values: [], count: 0, sum: 0, mean: 0, min: 0, max: 0, p50: 0 },
    { name: 'one value', values: [3], count: 1, sum: 3, mean: 3, min: 3, max: 3, p50: 3 },
    { name: 'negative counts as 0', values: [-5], count: 1, sum: 0, mean: 0, min: 0, max: 0, p50: 0 },
    { name: 'zero', values: [0, 0], count: 2, sum: 0, mean: 0, min: 0, max: 0, p50: 0 },
    { name: 'NaN is ignored', values: [NaN, 2], count: 1, sum: 2, mean: 2, min: 2, max: 2, p50: 2 },
    { name: 'above 1 hour clamps', values: [HISTOGRAM_MAX_MS * 10], count: 1, sum: HISTOGRAM_MAX_MS, mean: HISTOGRAM_MAX_MS, min: HISTOGRAM_MAX_MS, max: HISTOGRAM_MAX_MS, p50: HISTOGRAM_MAX_MS },
    { name: 'Infinity clamps', values: [Infinity], count: 1, sum: HISTOGRAM_MAX_MS, mean: HISTOGRAM_MAX_MS, min: HISTOGRAM_MAX_MS, max: HISTOGRAM_MAX_MS, p50: HISTOGRAM_MAX_MS },
  ])('$name', ({ values, count, sum, mean, min, max, p50 }) => {
    const h = createHistogram();
    for (const v of values) h.record(v);
    expect({ count: h.count, sum: h.sum, mean: h.mean, min: h.min, max: h.max, p50: h.percentile(50) }).toEqual({ count, sum, mean, min, max, p50 });
  });

  it('keeps 1% precision across the whole range, at powers of two and in between', () => {
    for (let us = 1; us <= 3.6e9; us *= 1.37) {
      for (const v of [us / 1000, 2 ** Math.floor(Math.log2(us)) / 1000]) {
        const h = createHistogram();
        h.record(v);
        h.record(HISTOGRAM_MAX_MS); // so p50 is not simply clamped to the exact max
        h.record(0);
        expect(Math.abs(h.percentile(50) - v) / v, `value ${v} ms`).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it('merges two histograms as if every value had been recorded in one', () => {
    const a = createHistogram();
    const b = createHistogram();
    const both = createHistogram();
    for (let i = 1; i <= 1000; i++) {
      (i % 3 === 0 ? a : b).record(i / 7);
      both.record(i / 7);
    }
    a.merge(b);
    expect(a.count).toBe(both.count);
    expect(a.sum).toBeCloseTo(both.sum, 9);
    expect(a.min).toBe(both.min);
    expect(a.max).toBe(both.max);
    for (const p of [1, 50, 90, 99]) expect(a.percentile(p)).toBe(both.percentile(p));
    a.merge(createHistogram());
    expect(a.count).toBe(both.count);
  });

  it('rejects merging something that is not one of its histograms', () => {
    const fake = { ...createHistogram() };
    expect(() => createHistogram().merge(fake as never)).toThrow(/createHistogram/);
  });
});

describe('histogram memory', () => {
  it('does not grow with the number of samples', () => {
    const h = createHistogram();
    const next = random(7);
    const spread = () => 0.001 * Math.exp(next() * Math.log(3.6e9)); // log-uniform over 1 µs .. 1 h
    for (let i = 0; i < 1_000_000; i++) h.record(spread());
    const after1e6 = h.bucketCount;
    expect(after1e6).toBeLessThanOrEqual(HISTOGRAM_MAX_BUCKETS);
    for (let i = 0; i < 1_000_000; i++) h.record(spread());
    expect(h.bucketCount).toBe(after1e6);
    expect(h.count).toBe(2_000_000);
  });

  it('holds few buckets for a typical latency distribution', () => {
    const h = createHistogram();
    const next = random(9);
    for (let i = 0; i < 100_000; i++) h.record(1 + next() * 4);
    expect(h.bucketCount).toBeLessThan(200);
  });
});
