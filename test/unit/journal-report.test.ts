import { describe, expect, it } from 'vitest';
import { parseSince, parseTime, reportQuery } from '../../src/commands/report-args.js';
import { createJournalIntervals } from '../../src/journal/intervals.js';
import type { JournalRange } from '../../src/journal/reader.js';
import type { RunRecord } from '../../src/journal/records.js';
import { summariseJournal } from '../../src/journal/report-data.js';
import type { MetricEvent } from '../../src/events.js';

// `canihaz report`'s arithmetic (pure): sums of interval records, percentiles of merged histograms,
// executions per minute of the time a test ran, runs and skipped minutes; and its options.

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const NOW = T0 + 3_600_000;

function execution(test: string, tickWallMs: number, latencyMs: number, ok = true, reason?: string): MetricEvent {
  return { kind: 'execution', test, tickWallMs, ok, latencyMs, lagMs: 0, ...(reason ? { reason } : {}) };
}

function runRecord(run: string, start: number, end: number, ended: RunRecord['ended']): RunRecord {
  return { v: 1, kind: 'run', run, host: 'web-1', slot: 0, start, end, ended, at: end + 100, books: {} };
}

describe('summariseJournal', () => {
  it('sums two runs, takes percentiles from the merged histograms and per-minute from the runs\' windows', () => {
    const a = createJournalIntervals('a');
    const b = createJournalIntervals('b');
    a.add({ kind: 'planned', test: 'home', tickWallMs: T0, ticks: 60 });
    b.add({ kind: 'planned', test: 'home', tickWallMs: T0 + 60_000, ticks: 60 });
    const all: number[] = [];
    for (let i = 0; i < 60; i++) {
      // Run a is fast, run b slow: an average of per-run p99s would be far from the true p99.
      const fast = 1 + i / 100;
      const slow = 100 + i;
      a.add(execution('home', T0 + i * 1_000, fast));
      b.add(execution('home', T0 + 60_000 + i * 1_000, slow, i % 10 !== 0, i % 10 !== 0 ? undefined : 'timeout'));
      all.push(fast, slow);
    }
    b.add({ kind: 'dropped', test: 'home', tickWallMs: T0 + 61_000 });
    a.add({ kind: 'execution', test: 'home', tickWallMs: T0, ok: true, latencyMs: 1, lagMs: 0, samples: [{ name: 'items', kind: 'counter', value: 2 }] });
    b.add({ kind: 'execution', test: 'home', tickWallMs: T0 + 60_000, ok: true, latencyMs: 1, lagMs: 0, samples: [{ name: 'items', kind: 'counter', value: 3 }] });
    all.push(1, 1);
    const range: JournalRange = {
      intervals: [...a.takeDirty(), ...b.takeDirty()],
      runs: [runRecord('a', T0, T0 + 60_000, 'window end'), runRecord('b', T0 + 60_000, T0 + 120_000, 'stop file')],
      skipped: [
        { v: 1, kind: 'skipped', host: 'web-1', at: T0 + 120_500 },
        { v: 1, kind: 'skipped', host: 'web-1', at: T0 + 120_900 },
        { v: 1, kind: 'skipped', host: 'web-1', at: T0 + 180_100 },
      ],
      skippedLines: [],
      files: [],
    };
    const report = summariseJournal(range, { from: T0, to: NOW });
    expect(report.from).toBe('2026-11-23T10:00:00.000Z');
    const [home] = report.tests;
    expect(home).toMatchObject({ test: 'home', requested: 120, started: 122, ok: 116, failed: 6, dropped: 1, missed: 0, aborted: 0, failures: { timeout: 6 }, perMinute: 61 });
    expect(home!.metrics).toEqual({ items: 5 });
    all.sort((x, y) => x - y);
    const p99 = all[Math.ceil(0.99 * all.length) - 1]!;
    expect(Math.abs(home!.latency!.p99 - p99)).toBeLessThanOrEqual(p99 / 128);
    expect(home!.latency!.max).toBe(159);
    expect(report.runs).toEqual([
      { start: '2026-11-23T10:00:00.000Z', end: '2026-11-23T10:01:00.000Z', host: 'web-1', slot: 0, ended: 'window end' },
      { start: '2026-11-23T10:01:00.000Z', end: '2026-11-23T10:02:00.000Z', host: 'web-1', slot: 0, ended: 'stop file' },
    ]);
    expect(report.skippedMinutes).toBe(2);
    expect(summariseJournal(range, { from: T0, to: NOW, tests: ['nope'] }).tests).toEqual([]);
  });

  it('a run without its record (killed, or its first write failed) counts the span of its intervals; an unended one is unknown', () => {
    const k = createJournalIntervals('k');
    for (let i = 0; i < 20; i++) k.add(execution('t', T0 + i * 1_000, 1));
    const report = summariseJournal({ intervals: k.takeDirty(), runs: [runRecord('x', T0, T0 + 60_000, null)], skipped: [], skippedLines: [], files: [] }, { from: T0, to: NOW });
    // Intervals at T0 and T0+10 s: 20 s of running, 20 executions.
    expect(report.tests[0]!.perMinute).toBe(60);
    expect(report.runs[0]!.ended).toBe('unknown');
  });

  it('a stopped run counts until it stopped; a range cuts the windows it overlaps', () => {
    const s = createJournalIntervals('s');
    for (let i = 0; i < 30; i++) s.add(execution('t', T0 + i * 500, 1));
    const stopped = { ...runRecord('s', T0, T0 + 60_000, 'stop file'), at: T0 + 15_000 };
    const range: JournalRange = { intervals: s.takeDirty(), runs: [stopped], skipped: [], skippedLines: [], files: [] };
    // 30 executions in the 15 s before the stop: 120 a minute, not 30 over the whole window.
    expect(summariseJournal(range, { from: T0, to: NOW }).tests[0]!.perMinute).toBe(120);
    // A range from T0 + 10 s: the interval at T0 + 10 s (10 executions) over the 5 s left of the run.
    expect(summariseJournal(range, { from: T0 + 10_000, to: NOW }).tests[0]).toMatchObject({ started: 10, perMinute: 120 });
  });

  it('timings and gauges of custom metrics: a merged distribution, the latest value', () => {
    const r = createJournalIntervals('r');
    r.add({ kind: 'execution', test: 't', tickWallMs: T0 + 10_000, ok: true, latencyMs: 1, lagMs: 0, samples: [{ name: 'g', kind: 'gauge', value: 7 }, { name: 'step.login', kind: 'timing', value: 10 }] });
    r.add({ kind: 'execution', test: 't', tickWallMs: T0, ok: true, latencyMs: 1, lagMs: 0, samples: [{ name: 'g', kind: 'gauge', value: 3 }, { name: 'step.login', kind: 'timing', value: 20 }] });
    const [t] = summariseJournal({ intervals: r.takeDirty(), runs: [], skipped: [], skippedLines: [], files: [] }, { from: T0, to: NOW }).tests;
    expect(t!.metrics.g).toBe(7);
    expect(t!.metrics['step.login']).toMatchObject({ count: 2, max: 20, mean: 15 });
  });
});

describe('report options', () => {
  it('durations and times', () => {
    expect([parseSince('30m'), parseSince('1h'), parseSince('2d'), parseSince('45s'), parseSince('1w'), parseSince('-1h'), parseSince('1.5h')]).toEqual([
      1_800_000, 3_600_000, 172_800_000, 45_000, undefined, undefined, undefined,
    ]);
    expect(parseTime('2026-11-23T10:00:00Z')).toBe(T0);
    expect(parseTime('2026-11-23T11:00:00+01:00')).toBe(T0);
    expect(parseTime('2026-11-23T10:00Z')).toBe(T0);
    expect(parseTime('2026-11-23')).toBe(Date.UTC(2026, 10, 23));
    expect(parseTime('2026-11-23T10:00:00')).toMatch(/^give the time zone \(Z for UTC\)/);
    expect(parseTime('yesterday')).toMatch(/^expected an ISO 8601 time/);
    expect(parseTime('2026-02-31T10:00:00Z')).toBe('not a valid time: "2026-02-31T10:00:00Z"');
    expect(parseTime('2026-13-01')).toBe('not a valid time: "2026-13-01"');
  });

  it('the default range is the last hour, as table', () => {
    expect(reportQuery({}, NOW)).toEqual({ from: NOW - 3_600_000, to: NOW, tests: [], format: 'table' });
    expect(reportQuery({ since: '2d', test: ['a', 'b'], format: 'csv' }, NOW)).toEqual({ from: NOW - 172_800_000, to: NOW, tests: ['a', 'b'], format: 'csv' });
    expect(reportQuery({ from: '2026-11-23T10:00:00Z' }, NOW)).toMatchObject({ from: T0, to: NOW });
    expect(reportQuery({ from: '2026-11-23T10:00:00Z', to: '2026-11-23T10:30:00Z' }, NOW)).toMatchObject({ from: T0, to: T0 + 1_800_000 });
  });

  it('every bad option at once, each naming itself', () => {
    let message = '';
    try {
      reportQuery({ since: '1w', from: '2026-11-23T10:00:00', format: 'xml', test: [''] }, NOW);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe('E_USAGE');
    }
    expect(message.split('\n').map((l) => l.split(':')[0])).toEqual(['--since', '--since', '--from', '--format', '--test']);
    expect(() => reportQuery({ to: '2026-11-23T10:00:00Z' }, NOW)).toThrow(/^--to: needs --from$/);
    expect(() => reportQuery({ from: '2026-11-23T10:00:00Z', to: '2026-11-23T09:00:00Z' }, NOW)).toThrow(/^--from: must be before --to/);
    expect(() => reportQuery({ since: '400d' }, NOW)).toThrow(/^--since: must be at most 366d$/);
  });
});
