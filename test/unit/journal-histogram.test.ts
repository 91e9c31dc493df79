import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOURNAL_HISTOGRAM_BUCKETS, JOURNAL_HISTOGRAM_RELATIVE_ERROR, JournalHistogram } from '../../src/journal/histogram.js';
import { createHistogram } from '../../src/metrics/histogram.js';

// The journal keeps each interval's latency histogram so that an hour's or a day's percentiles come
// from merged histograms. These check that merging encoded intervals gives the exact percentiles of
// all the values within the documented error, and that the journal computes a distribution exactly
// as the live sinks do (so a replay re-sends what Graphite got).

/** The exact p-th percentile by the histograms' rank rule: the value of rank ⌈p·n/100⌉ (at least 1). */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

const latency = fc.oneof(
  fc.double({ min: 0.001, max: 5, noNaN: true }),
  fc.double({ min: 5, max: 2_000, noNaN: true }),
  fc.double({ min: 2_000, max: 3_600_000, noNaN: true }),
);
const PERCENTILES = [1, 10, 50, 75, 90, 99, 99.9];

describe('JournalHistogram', () => {
  it('percentiles of merged, encoded and decoded intervals stay within the relative error of the exact ones', () => {
    fc.assert(
      fc.property(fc.array(fc.array(latency, { minLength: 0, maxLength: 200 }), { minLength: 1, maxLength: 30 }), (intervals) => {
        const merged = new JournalHistogram();
        for (const values of intervals) {
          const h = new JournalHistogram();
          for (const v of values) h.record(v);
          // Through a journal line and back, as the reader sees it.
          const back = JournalHistogram.decode(JSON.parse(JSON.stringify(h.encode())));
          expect(back).toBeDefined();
          merged.merge(back!);
        }
        const all = intervals.flat().sort((a, b) => a - b);
        expect(merged.count).toBe(all.length);
        if (all.length === 0) return;
        for (const p of PERCENTILES) {
          const want = exact(all, p);
          // Encoded min and max are rounded to 1 µs, so allow that too.
          expect(Math.abs(merged.percentile(p) - want)).toBeLessThanOrEqual(want * JOURNAL_HISTOGRAM_RELATIVE_ERROR + 0.0011);
        }
        expect(merged.max).toBeCloseTo(all[all.length - 1]!, 2);
      }),
      { numRuns: Number(process.env.CANIHAZ_FUZZ_RUNS ?? 300) },
    );
  });

  it('gives the same figures as the live sinks\' histogram (metrics/histogram.ts) for the same values', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 500 }), (values) => {
        const ours = new JournalHistogram();
        const live = createHistogram();
        for (const v of values) {
          ours.record(v);
          live.record(v);
        }
        for (const p of [50, 90, 99]) expect(ours.percentile(p)).toBe(live.percentile(p));
        expect(ours.percentiles([99, 0, 50, 100, 90])).toEqual([99, 0, 50, 100, 90].map((p) => live.percentile(p)));
        expect(ours.max).toBe(live.max);
        expect(ours.mean).toBe(live.mean);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes runs of buckets compactly: counts for neighbours, a negative number for a gap', () => {
    const h = new JournalHistogram();
    for (const v of [1, 1, 1.01, 5]) h.record(v);
    const e = h.encode();
    expect(e.n).toBe(4);
    expect(e.min).toBe(1);
    expect(e.max).toBe(5);
    // 1 ms and 1.01 ms are neighbouring buckets, 5 ms further on.
    expect(e.b.slice(1, 3)).toEqual([2, 1]);
    expect(e.b[3]).toBeLessThan(0);
    expect(e.b[4]).toBe(1);
    expect(JSON.stringify(e).length).toBeLessThan(60);
  });

  it('an empty histogram round-trips and reports zeros', () => {
    const back = JournalHistogram.decode(new JournalHistogram().encode())!;
    expect([back.count, back.percentile(50), back.max, back.min]).toEqual([0, 0, 0, 0]);
  });

  it.each([
    ['not an object', 'x'],
    ['counts that do not add up', { n: 3, sum: 1, min: 1, max: 1, b: [10, 1] }],
    ['a zero count', { n: 0, sum: 0, min: 0, max: 0, b: [10, 0] }],
    ['a negative start', { n: 1, sum: 1, min: 1, max: 1, b: [-1, 1] }],
    ['a bucket past the last', { n: 1, sum: 1, min: 1, max: 1, b: [JOURNAL_HISTOGRAM_BUCKETS, 1] }],
    ['a fraction', { n: 1, sum: 1, min: 1, max: 1, b: [10, 0.5] }],
    ['min above max', { n: 1, sum: 1, min: 2, max: 1, b: [10, 1] }],
    ['a missing field', { n: 1, sum: 1, max: 1, b: [10, 1] }],
  ])('refuses a damaged encoding: %s', (_, value) => {
    expect(JournalHistogram.decode(value)).toBeUndefined();
  });

  it('a busy interval stays small: 10,000 latencies over 0.2–50 ms encode in under 2.5 KB', () => {
    const h = new JournalHistogram();
    let x = 12345;
    for (let i = 0; i < 10_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      h.record(0.2 * Math.exp((x / 2 ** 31) * Math.log(250)));
    }
    expect(JSON.stringify(h.encode()).length).toBeLessThan(2_500);
  });
});
