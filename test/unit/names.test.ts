import { describe, expect, it } from 'vitest';
import type { IntervalSnapshot } from '../../src/metrics/intervals.js';
import {
  DEFAULT_PREFIX,
  defaultGraphitePrefix,
  defaultStatsdPrefix,
  agentMetricName,
  expandPrefix,
  graphiteIntervalPoints,
  metricSegment,
  shortHostname,
  statsdTestNames,
} from '../../src/metrics/names.js';

describe('expandPrefix', () => {
  it.each([
    { template: 'canihaz', hostname: 'web-1.example.com', expected: 'canihaz' },
    { template: '{host}', hostname: 'web-1.example.com', expected: 'web-1' },
    { template: 'canihaz.{host}', hostname: 'web-1.example.com', expected: 'canihaz.web-1' },
    { template: 'a.{host}.b.{host}', hostname: 'db7', expected: 'a.db7.b.db7' },
    { template: 'canihaz.{host}', hostname: 'Web_2', expected: 'canihaz.Web_2' },
    { template: 'canihaz.{host}', hostname: 'héte:1 x.lan', expected: 'canihaz.h_te_1_x' },
    { template: 'canihaz.{host}', hostname: '', expected: 'canihaz.unknown' },
    { template: 'canihaz.{host}', hostname: '.local', expected: 'canihaz.unknown' },
    { template: 'canihaz.{HOST}', hostname: 'web-1', expected: 'canihaz.{HOST}' },
  ])('$template with $hostname → $expected', ({ template, hostname, expected }) => {
    expect(expandPrefix(template, hostname)).toBe(expected);
  });
});

describe('prefix defaults', () => {
  it('statsd uses the bare prefix, graphite adds the host', () => {
    expect(DEFAULT_PREFIX).toBe('canihaz');
    expect(defaultStatsdPrefix(DEFAULT_PREFIX)).toBe('canihaz');
    expect(defaultGraphitePrefix(DEFAULT_PREFIX)).toBe('canihaz.{host}');
    expect(defaultGraphitePrefix('team.cap')).toBe('team.cap.{host}');
    expect(expandPrefix(defaultGraphitePrefix('canihaz'), 'web-1.example.com')).toBe('canihaz.web-1');
  });
});

describe('metricSegment and shortHostname', () => {
  it.each([
    ['home', 'home'],
    ['api_v2-login', 'api_v2-login'],
    ['a.b', 'a_b'],
    ['a b:c|d', 'a_b_c_d'],
    ['', '_'],
  ])('metricSegment(%j) → %j', (input, expected) => {
    expect(metricSegment(input)).toBe(expected);
  });

  it.each([
    ['web-1.example.com', 'web-1'],
    ['WEB1', 'WEB1'],
    ['x', 'x'],
    ['', 'unknown'],
  ])('shortHostname(%j) → %j', (input, expected) => {
    expect(shortHostname(input)).toBe(expected);
  });
});

describe('statsd names', () => {
  const n = statsdTestNames('canihaz', 'home');
  it.each([
    ['ok', n.ok, 'canihaz.home.ok'],
    ['failed', n.failed, 'canihaz.home.failed'],
    ['failed reason', n.failedReason('timeout'), 'canihaz.home.failed.timeout'],
    ['failed reason, sanitized', n.failedReason('http 503'), 'canihaz.home.failed.http_503'],
    ['failed reason, empty', n.failedReason(''), 'canihaz.home.failed.unknown'],
    ['latency', n.latency, 'canihaz.home.latency'],
    ['lag', n.lag, 'canihaz.home.lag'],
    ['dropped', n.dropped, 'canihaz.home.dropped'],
    ['missed', n.missed, 'canihaz.home.missed'],
    ['aborted', n.aborted, 'canihaz.home.aborted'],
    ['agent', agentMetricName('canihaz', 'skipped'), 'canihaz.agent.skipped'],
    ['under a host prefix', statsdTestNames('cap.web-1', 'login').ok, 'cap.web-1.login.ok'],
  ])('%s → %s', (_what, actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe('graphite points', () => {
  const base: IntervalSnapshot = {
    test: 'home',
    startWallMs: Date.UTC(2026, 10, 22, 12, 0, 10),
    count: 20,
    ok: 19,
    failed: 1,
    dropped: 2,
    missed: 3,
    aborted: 4,
    latency: { mean: 1.21, p50: 1.1, p90: 1.5, p99: 2, max: 2.31 },
  };

  it.each([
    {
      name: 'with executions: counts and latency',
      snapshot: base,
      expected: [
        ['canihaz.web-1.home.count', 20],
        ['canihaz.web-1.home.ok', 19],
        ['canihaz.web-1.home.failed', 1],
        ['canihaz.web-1.home.dropped', 2],
        ['canihaz.web-1.home.missed', 3],
        ['canihaz.web-1.home.aborted', 4],
        ['canihaz.web-1.home.latency.mean', 1.21],
        ['canihaz.web-1.home.latency.p50', 1.1],
        ['canihaz.web-1.home.latency.p90', 1.5],
        ['canihaz.web-1.home.latency.p99', 2],
        ['canihaz.web-1.home.latency.max', 2.31],
      ],
    },
    {
      name: 'without executions: counts only',
      snapshot: { ...base, count: 0, ok: 0, failed: 0, latency: null },
      expected: [
        ['canihaz.web-1.home.count', 0],
        ['canihaz.web-1.home.ok', 0],
        ['canihaz.web-1.home.failed', 0],
        ['canihaz.web-1.home.dropped', 2],
        ['canihaz.web-1.home.missed', 3],
        ['canihaz.web-1.home.aborted', 4],
      ],
    },
  ])('$name', ({ snapshot, expected }) => {
    expect(graphiteIntervalPoints('canihaz.web-1', snapshot).map((p) => [p.path, p.value])).toEqual(expected);
  });

  it('names agent counters under the prefix', () => {
    expect(agentMetricName('canihaz.web-1', 'skipped')).toBe('canihaz.web-1.agent.skipped');
  });
});
