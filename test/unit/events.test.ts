/**
 * The event vocabulary and the names built from it: each event's figures (events.ts), and every
 * metric path derived from them generically (names.ts), extra samples included.
 */
import { describe, expect, it } from 'vitest';
import { eventSamples, failureSampleName, outcomeOf, OUTCOMES, TEST_COUNTS, type MetricEvent } from '../../src/events.js';
import type { IntervalSnapshot } from '../../src/metrics/intervals.js';
import { graphiteIntervalPoints, statsdTestNames, testMetricName } from '../../src/metrics/names.js';

const T = Date.UTC(2026, 10, 22, 12, 0, 10);

describe('the vocabulary', () => {
  it('lists the outcomes once, and the summary counts as requested, started, then the outcomes', () => {
    expect(OUTCOMES).toEqual(['ok', 'failed', 'dropped', 'missed', 'aborted']);
    expect(TEST_COUNTS).toEqual(['requested', 'started', 'ok', 'failed', 'dropped', 'missed', 'aborted']);
  });

  it.each<[string, MetricEvent, ReturnType<typeof outcomeOf>]>([
    ['ok execution', { kind: 'execution', test: 'a', tickWallMs: T, ok: true, latencyMs: 1, lagMs: 0 }, { outcome: 'ok', n: 1 }],
    ['failed execution', { kind: 'execution', test: 'a', tickWallMs: T, ok: false, reason: 'dns', latencyMs: 1, lagMs: 0 }, { outcome: 'failed', n: 1 }],
    ['dropped', { kind: 'dropped', test: 'a', tickWallMs: T }, { outcome: 'dropped', n: 1 }],
    ['missed', { kind: 'missed', test: 'a', tickWallMs: T, count: 7 }, { outcome: 'missed', n: 7 }],
    ['aborted', { kind: 'aborted', test: 'a', tickWallMs: T, latencyMs: 3 }, { outcome: 'aborted', n: 1 }],
    ['planned', { kind: 'planned', test: 'a', tickWallMs: T, ticks: 60 }, undefined],
  ])('outcomeOf(%s)', (_what, event, expected) => {
    expect(outcomeOf(event)).toEqual(expected);
  });

  it.each<[string, MetricEvent, [string, string, number][]]>([
    [
      'ok execution with its own samples',
      {
        kind: 'execution',
        test: 'a',
        tickWallMs: T,
        ok: true,
        latencyMs: 12.5,
        lagMs: 0.25,
        samples: [
          { name: 'cart_items', kind: 'counter', value: 3 },
          { name: 'step.login', kind: 'timing', value: 4 },
          { name: 'queue', kind: 'gauge', value: 9 },
        ],
      },
      [
        ['ok', 'counter', 1],
        ['latency', 'timing', 12.5],
        ['lag', 'timing', 0.25],
        ['cart_items', 'counter', 3],
        ['step.login', 'timing', 4],
        ['queue', 'gauge', 9],
      ],
    ],
    [
      'failed execution',
      { kind: 'execution', test: 'a', tickWallMs: T, ok: false, reason: 'status_503', latencyMs: 2, lagMs: 1 },
      [
        ['failed', 'counter', 1],
        ['failed.status_503', 'counter', 1],
        ['latency', 'timing', 2],
        ['lag', 'timing', 1],
      ],
    ],
    ['failed without a reason', { kind: 'execution', test: 'a', tickWallMs: T, ok: false, latencyMs: 2, lagMs: 1 }, [
      ['failed', 'counter', 1],
      ['failed.unknown', 'counter', 1],
      ['latency', 'timing', 2],
      ['lag', 'timing', 1],
    ]],
    ['dropped', { kind: 'dropped', test: 'a', tickWallMs: T }, [['dropped', 'counter', 1]]],
    ['missed', { kind: 'missed', test: 'a', tickWallMs: T, count: 4 }, [['missed', 'counter', 4]]],
    ['missed nothing', { kind: 'missed', test: 'a', tickWallMs: T, count: 0 }, []],
    ['aborted', { kind: 'aborted', test: 'a', tickWallMs: T, latencyMs: 3 }, [['aborted', 'counter', 1]]],
    ['planned', { kind: 'planned', test: 'a', tickWallMs: T, ticks: 60 }, []],
  ])('eventSamples(%s)', (_what, event, expected) => {
    expect(eventSamples(event).map((s) => [s.name, s.kind, s.value])).toEqual(expected);
  });

  it('keeps a failure reason one name segment', () => {
    expect(failureSampleName('a.b')).toBe('failed.a_b');
    expect(failureSampleName('')).toBe('failed.unknown');
  });
});

describe('names built from the vocabulary', () => {
  it.each([
    ['ok', 'canihaz.home.ok'],
    ['failed.timeout', 'canihaz.home.failed.timeout'],
    ['step.login', 'canihaz.home.step.login'],
    ['step.log in', 'canihaz.home.step.log_in'],
    ['a..b', 'canihaz.home.a._.b'],
  ])('testMetricName(%j) → %s', (sample, expected) => {
    expect(testMetricName('canihaz', 'home', sample)).toBe(expected);
  });

  it('gives every event sample of a StatsD line the same path as the shorthand names', () => {
    const n = statsdTestNames('canihaz', 'home');
    for (const outcome of OUTCOMES) expect(n[outcome]).toBe(testMetricName('canihaz', 'home', outcome));
    const failed: MetricEvent = { kind: 'execution', test: 'home', tickWallMs: T, ok: false, reason: 'http 503', latencyMs: 1, lagMs: 0 };
    expect(eventSamples(failed).map((s) => testMetricName('canihaz', 'home', s.name))).toEqual([n.failed, n.failedReason('http 503'), n.latency, n.lag]);
  });

  it('sends a result sample to Graphite by kind: a counter or gauge as its value, a timing as its distribution', () => {
    const snapshot: IntervalSnapshot = {
      test: 'home',
      startWallMs: T,
      count: 0,
      ok: 0,
      failed: 0,
      dropped: 0,
      missed: 0,
      aborted: 0,
      latency: null,
      samples: [
        { name: 'cart_items', kind: 'counter', value: 5 },
        { name: 'step.login', kind: 'timing', summary: { mean: 2, p50: 1, p90: 3, p99: 4, max: 5 } },
      ],
    };
    expect(graphiteIntervalPoints('p.h', snapshot).map((p) => [p.path, p.value])).toEqual([
      ['p.h.home.count', 0],
      ['p.h.home.ok', 0],
      ['p.h.home.failed', 0],
      ['p.h.home.dropped', 0],
      ['p.h.home.missed', 0],
      ['p.h.home.aborted', 0],
      ['p.h.home.cart_items', 5],
      ['p.h.home.step.login.mean', 2],
      ['p.h.home.step.login.p50', 1],
      ['p.h.home.step.login.p90', 3],
      ['p.h.home.step.login.p99', 4],
      ['p.h.home.step.login.max', 5],
    ]);
  });
});
