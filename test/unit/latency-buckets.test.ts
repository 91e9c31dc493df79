/**
 * The cumulative latency counters (`<test>.latency.le_<ms>`, issue 11 item 5): the bucket of a
 * latency at and around each bound, the cumulative counts of the Graphite sink's intervals and of the
 * journal's records, their Graphite points, and journal records written before the counters existed.
 */
import { describe, expect, it } from 'vitest';
import { cumulativeBuckets, LATENCY_BOUNDS_MS, LATENCY_BUCKET_NAMES, latencyBucketOf, type MetricEvent } from '../../src/events.js';
import { createJournalIntervals } from '../../src/journal/intervals.js';
import { decodeRecord, encodeRecord } from '../../src/journal/records.js';
import { createIntervalAggregator, type IntervalSnapshot } from '../../src/metrics/intervals.js';
import { graphiteIntervalPoints } from '../../src/metrics/names.js';

const T = Date.UTC(2026, 10, 23, 12, 0, 0);
const exec = (latencyMs: number, ok = true): MetricEvent => ({ kind: 'execution', test: 'home', tickWallMs: T, ok, ...(ok ? {} : { reason: 'timeout' }), latencyMs, lagMs: 0 });

describe('the bounds and names', () => {
  it('are fixed: 1 ms to 10 s, then le_inf', () => {
    expect(LATENCY_BOUNDS_MS).toEqual([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);
    expect(LATENCY_BUCKET_NAMES).toEqual([...LATENCY_BOUNDS_MS.map((b) => `latency.le_${b}`), 'latency.le_inf']);
  });

  it.each([
    [0, 'latency.le_1'],
    [-1, 'latency.le_1'],
    [1, 'latency.le_1'],
    [1.000001, 'latency.le_2'],
    [2, 'latency.le_2'],
    [99.999, 'latency.le_100'],
    [100, 'latency.le_100'],
    [100.0000001, 'latency.le_250'],
    [9_999, 'latency.le_10000'],
    [10_000, 'latency.le_10000'],
    [10_000.001, 'latency.le_inf'],
    [Infinity, 'latency.le_inf'],
    [NaN, 'latency.le_inf'],
  ])('a latency of %d ms is counted first in %s (a latency equal to a bound is in it)', (ms, name) => {
    expect(LATENCY_BUCKET_NAMES[latencyBucketOf(ms)]).toBe(name);
  });

  it('every bound is in its own bucket and the next float above it in the next', () => {
    LATENCY_BOUNDS_MS.forEach((b, i) => {
      expect(latencyBucketOf(b)).toBe(i);
      expect(latencyBucketOf(b + b * Number.EPSILON)).toBe(i + 1);
    });
  });

  it('cumulativeBuckets sums the buckets up to each bound', () => {
    expect(cumulativeBuckets([1, 0, 2, 0, 3])).toEqual([1, 1, 3, 3, 6]);
    expect(cumulativeBuckets(new Uint32Array(14))).toEqual(Array(14).fill(0));
  });
});

/** Latencies on and around the bounds, ok and failed, and what le_ each should count. */
const LATENCIES: [number, boolean][] = [
  [0.5, true],
  [1, true],
  [1.5, false],
  [100, true],
  [100.5, true],
  [10_000, false],
  [30_000, false],
];
const EXPECTED_LE = [2, 3, 3, 3, 3, 3, 4, 5, 5, 5, 5, 5, 6, 7];

describe('the Graphite sink’s intervals', () => {
  it('count every completed execution, ok or failed, cumulatively; aborted ones and drops are not in them', () => {
    const agg = createIntervalAggregator();
    for (const [ms, ok] of LATENCIES) agg.add(exec(ms, ok));
    agg.add({ kind: 'aborted', test: 'home', tickWallMs: T, latencyMs: 5 });
    agg.add({ kind: 'dropped', test: 'home', tickWallMs: T });
    const [s] = agg.takeDirty();
    expect(s!.le).toEqual(EXPECTED_LE);
    expect(s!.le!.at(-1)).toBe(s!.count);
  });

  it('have no counters when nothing completed', () => {
    const agg = createIntervalAggregator();
    agg.add({ kind: 'dropped', test: 'home', tickWallMs: T });
    expect(agg.takeDirty()[0]).not.toHaveProperty('le');
  });

  it('start over in each interval', () => {
    const agg = createIntervalAggregator();
    agg.add(exec(3));
    agg.add({ ...exec(3000), tickWallMs: T + 10_000 });
    expect(agg.takeDirty().map((s) => s.le)).toEqual([
      [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    ]);
  });
});

describe('graphiteIntervalPoints', () => {
  const base: IntervalSnapshot = {
    test: 'home',
    startWallMs: T,
    count: 7,
    ok: 4,
    failed: 3,
    dropped: 0,
    missed: 0,
    aborted: 0,
    latency: { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 },
  };

  it('sends one point per bound after the percentiles, le_inf last', () => {
    const points = graphiteIntervalPoints('canihaz.web-1', { ...base, le: EXPECTED_LE });
    expect(points.map((p) => p.path).slice(6, 11)).toEqual(['mean', 'p50', 'p90', 'p99', 'max'].map((f) => `canihaz.web-1.home.latency.${f}`));
    expect(points.slice(11).map((p) => [p.path, p.value])).toEqual(LATENCY_BUCKET_NAMES.map((n, i) => [`canihaz.web-1.home.${n}`, EXPECTED_LE[i]]));
    expect(points.length).toBe(11 + 14);
  });

  it('sends none without counters (a journal record written before them) or when nothing completed', () => {
    expect(graphiteIntervalPoints('p', base).some((p) => p.path.includes('.le_'))).toBe(false);
    expect(graphiteIntervalPoints('p', { ...base, count: 0, ok: 0, failed: 0, latency: null, le: Array(14).fill(0) }).some((p) => p.path.includes('.le_'))).toBe(false);
  });
});

describe('the journal', () => {
  it('keeps the same cumulative counts in its interval records (`le`), absent when nothing completed', () => {
    const intervals = createJournalIntervals('run1');
    const agg = createIntervalAggregator();
    for (const [ms, ok] of LATENCIES) {
      intervals.add(exec(ms, ok));
      agg.add(exec(ms, ok));
    }
    intervals.add({ kind: 'dropped', test: 'other', tickWallMs: T });
    const records = intervals.takeDirty();
    const home = records.find((r) => r.test === 'home')!;
    expect(home.le).toEqual(EXPECTED_LE);
    expect(home.le).toEqual(agg.takeDirty()[0]!.le);
    expect(records.find((r) => r.test === 'other')).not.toHaveProperty('le');
    expect(decodeRecord(encodeRecord(home).trimEnd())).toEqual(home);
  });

  it('reads a record written before the counters (no `le`), and refuses a malformed `le`', () => {
    const old = '{"v":1,"kind":"interval","run":"r","test":"home","start":1795462480000,"requested":1,"ok":1,"failed":0,"dropped":0,"missed":0,"aborted":0,"failures":{},"latency":{"mean":2,"p50":2,"p90":2,"p99":2,"max":2},"hist":{"n":1,"sum":2,"min":2,"max":2,"b":[1000,1]}}';
    const r = decodeRecord(old);
    expect(r).toMatchObject({ kind: 'interval', ok: 1 });
    expect(r).not.toHaveProperty('le');
    const withLe = (le: unknown) => decodeRecord(old.replace(/}$/, `,"le":${JSON.stringify(le)}}`));
    expect(withLe(Array(14).fill(1))).toMatchObject({ le: Array(14).fill(1) });
    expect(withLe(Array(13).fill(1))).toBeUndefined();
    expect(withLe([...Array(13).fill(1), 'x'])).toBeUndefined();
    expect(withLe({ le_1: 1 })).toBeUndefined();
  });
});
