/**
 * The dashboard's pure parts: the chart series cut from interval records (bucket sizes fitted to the
 * range, counts adding up, latency from merged histograms, not averaged), and the query strings.
 */
import { describe, expect, it } from 'vitest';
import { parseDashboardQuery } from '../../src/dashboard/query.js';
import { cacheTtlMs } from '../../src/dashboard/report-source.js';
import { JournalHistogram } from '../../src/journal/histogram.js';
import type { JournalRange } from '../../src/journal/reader.js';
import type { IntervalRecord } from '../../src/journal/records.js';
import { bucketSizeFor, journalSeries } from '../../src/journal/series.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');

function interval(test: string, start: number, ok: number, failed: number, latencies: number[]): IntervalRecord {
  const h = new JournalHistogram();
  for (const v of latencies) h.record(v);
  return {
    v: 1, kind: 'interval', run: 'r1', test, start, requested: ok + failed, ok, failed, dropped: 0, missed: 0, aborted: 0,
    failures: failed > 0 ? { timeout: failed } : {}, latency: null, hist: latencies.length > 0 ? h.encode() : null,
  };
}
const range = (intervals: IntervalRecord[]): JournalRange => ({ intervals, runs: [], skipped: [], skippedLines: [], files: [] });

describe('journalSeries', () => {
  it.each([
    [3_600_000, 60_000],
    [2 * 3_600_000, 60_000],
    [86_400_000, 600_000],
    [7 * 86_400_000, 3_600_000],
    [366 * 86_400_000, 86_400_000],
  ])('a range of %d ms has buckets of %d ms', (rangeMs, size) => expect(bucketSizeFor(rangeMs)).toBe(size));

  it('adds the intervals of each minute, zero where nothing ran, latency null where nothing completed', () => {
    const s = journalSeries(
      range([
        interval('b', T0 + 10_000, 5, 1, [1, 2, 3, 4, 5, 6]),
        interval('a', T0 + 20_000, 2, 0, [10, 10]),
        interval('a', T0 + 50_000, 3, 0, [10, 10, 10]),
        interval('a', T0 + 180_000, 1, 0, [1]),
        interval('a', T0 - 10_000, 100, 0, [1]), // before the range
      ]),
      { from: T0, to: T0 + 300_000 },
    );
    expect(s.bucketSeconds).toBe(60);
    expect(s.t).toEqual([0, 1, 2, 3, 4].map((i) => (T0 + i * 60_000) / 1000));
    expect(s.tests.map((t) => t.test)).toEqual(['a', 'b']);
    expect(s.tests[0]).toMatchObject({ ok: [5, 0, 0, 1, 0], failed: [0, 0, 0, 0, 0], p50: [10, null, null, 1, null] });
    expect(s.tests[1]).toMatchObject({ ok: [5, 0, 0, 0, 0], failed: [1, 0, 0, 0, 0] });
  });

  it('takes percentiles of the merged histograms, never the mean of per-interval percentiles', () => {
    // Two intervals in one bucket: 99 fast executions and 1 slow one; the bucket's p99 is fast, its p50 too.
    const fast = Array.from({ length: 99 }, () => 1);
    const s = journalSeries(range([interval('a', T0, 99, 0, fast), interval('a', T0 + 10_000, 1, 0, [1000])]), { from: T0, to: T0 + 60_000 });
    expect(s.tests[0]!.p50[0]).toBeCloseTo(1, 1);
    expect(s.tests[0]!.p99[0]).toBeCloseTo(1, 1);
    // Averaging the two intervals' p99 would have said about 500 ms.
  });

  it('keeps only the tests asked for', () => {
    const s = journalSeries(range([interval('a', T0, 1, 0, [1]), interval('b', T0, 1, 0, [1])]), { from: T0, to: T0 + 60_000, tests: ['b'] });
    expect(s.tests.map((t) => t.test)).toEqual(['b']);
  });
});

describe('parseDashboardQuery', () => {
  const now = T0;
  const q = (text: string) => parseDashboardQuery(new URLSearchParams(text), now);

  it('defaults to the last hour, and reads since, from/to, test and limit', () => {
    expect(q('')).toMatchObject({ from: now - 3_600_000, to: now, tests: [], limit: undefined });
    expect(q('since=7d&limit=5&test=a&test=b')).toMatchObject({ from: now - 7 * 86_400_000, to: now, tests: ['a', 'b'], limit: 5 });
    expect(q('from=2026-11-23T08:00:00Z&to=2026-11-23T10:00:00%2B01:00')).toMatchObject({ from: T0 - 7_200_000, to: T0 - 3_600_000 });
    expect(q('from=2026-11-23T09:30:00Z')).toMatchObject({ from: T0 - 1_800_000, to: now });
  });

  it('keys the cache on the range as asked, not on the time of asking', () => {
    const a = parseDashboardQuery(new URLSearchParams('since=1h'), now);
    const b = parseDashboardQuery(new URLSearchParams('since=60m'), now + 1234);
    expect('key' in a && 'key' in b && a.key === b.key).toBe(true);
  });

  it('names every bad parameter at once', () => {
    expect(q('since=1y&limit=1001&x=1&test=')).toEqual({
      problems: [
        'x: unknown parameter; expected since, from, to, test or limit',
        'since: expected a duration such as 1h, 24h or 7d (m, h, d), got "1y"',
        'test: needs a test name',
        'limit: expected a whole number from 1 to 1000, got "1001"',
      ],
    });
    expect(q('from=2026-11-01T00:00:00Z&to=2026-11-23T00:00:00Z')).toEqual({ problems: ['from: the range must be at most 7 days'] });
  });

  it('keeps answers 5 s for short ranges, up to a minute for a week', () => {
    expect([cacheTtlMs(3_600_000), cacheTtlMs(86_400_000), cacheTtlMs(7 * 86_400_000)]).toEqual([5_000, 8_640, 60_000]);
  });
});
