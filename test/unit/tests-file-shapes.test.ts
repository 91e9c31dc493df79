/**
 * Load shapes (issue 12) in the tests file: a shaped line's spec carries the shape and counts at its
 * peak, a flat line is today's, the fingerprint tells shapes apart, no probe type sees a shape key,
 * and a shaped test the window owes nothing is created but not prepared (testJobs).
 */
import { describe, expect, it } from 'vitest';
import { testJobs } from '../../src/commands/test-jobs.js';
import { SHAPE_KEYS } from '../../src/config/shape-params.js';
import { formatLineError, parseTestsText } from '../../src/config/tests-file.js';
import { silentLogger } from '../../src/log.js';
import { COMMON_KEYS, LINE_KEYS } from '../../src/probes/params.js';
import type { ProbeType } from '../../src/probes/probe.js';
import { createProbeRegistry } from '../../src/probes/registry.js';
import { FakeClock } from '../support/fake-clock.js';
import { fakeProbeType } from '../support/fake-probe.js';

const parse = (text: string, maxTotalRate?: number) =>
  parseTestsText(text, 't.conf', { probeTypes: createProbeRegistry([fakeProbeType()]), ...(maxTotalRate ? { maxTotalRate } : {}) });
const START = Date.UTC(2026, 11, 1, 14, 0, 0);

describe('tests file: shaped lines', () => {
  it('a shaped line carries its shape, and its frequency is the peak', () => {
    const { specs, errors } = parse('k|fake|60,480,120|none|start=2026-12-01T14:00:00Z|step=5m|then=stop\nr|fake|600..60|none|start=2026-12-01T15:00:00+01:00|ramp=10m|for=1h\n');
    expect(errors).toEqual([]);
    expect(specs.map((s) => [s.frequency, s.shape])).toEqual([
      [480, { start: START, rates: { kind: 'steps', perMinute: [60, 480, 120], stepMs: 300_000, then: 'stop' }, arrivals: 'even' }],
      [600, { start: START, end: START + 3_600_000, rates: { kind: 'ramp', from: 600, to: 60, rampMs: 600_000, then: 'hold' }, arrivals: 'even' }],
    ]);
  });

  it('a flat line has no shape and today’s fingerprint; a start, an end or Poisson arrivals make it shaped (arrivals=even is the default)', () => {
    const { specs } = parse('a|fake|60|none\nb|fake|60|none|end=2030-01-01T00:00:00Z\nc|fake|60|none|arrivals=poisson\nd|fake|60|none|arrivals=even\n');
    expect(specs.map((s) => s.shape === undefined)).toEqual([true, false, false, true]);
    expect(specs[0]!.fingerprint).toBe(JSON.stringify(['fake', 60, [{ kind: 'none' }], []]));
  });

  it('the fingerprint tells shapes apart: a reordered list, another start, another arrival', () => {
    const line = (freq: string, more: string) => parse(`a|fake|${freq}|none|start=2026-12-01T14:00:00Z|step=1m${more}\n`).specs[0]!.fingerprint;
    const prints = [line('60,120', ''), line('120,60', ''), line('60,120', '|then=stop'), line('60,120', '|arrivals=poisson'), line('60,120', '|for=1h')];
    expect(new Set(prints).size).toBe(prints.length);
    expect(line('60,120', '')).toBe(line('60,120', ''));
  });

  it('counts a shaped line at its peak against max_total_rate', () => {
    const { specs, errors } = parse('a|fake|100|none\nb|fake|10..500|none|start=2026-12-01T14:00:00Z|ramp=1m\nc|fake|50|none\n', 550);
    expect(specs.map((s) => s.name)).toEqual(['a', 'c']);
    expect(errors.map(formatLineError)).toEqual([
      "t.conf:2: frequency: 500 per minute (its peak) would bring this agent's total to 600 per minute, over max_total_rate 550 (the tests before this line already total 100)",
    ]);
  });

  it('every shape key is a line key (no probe type sees it) and a common key (no scenario module may declare it)', () => {
    expect([...SHAPE_KEYS].filter((k) => !LINE_KEYS.has(k))).toEqual([]);
    expect([...SHAPE_KEYS].filter((k) => !(COMMON_KEYS as readonly string[]).includes(k))).toEqual([]);
  });
});

describe('testJobs: shaped tests', () => {
  function recordingType() {
    const log: string[] = [];
    const type: ProbeType<{ id: string }> = {
      name: 'rec',
      defaultConcurrency: 1,
      parse: (params) => ({ ok: true, options: { id: params.get('id')?.[0] ?? '' }, timeoutMs: 1_000 }),
      create: (options) => ({
        execute: async () => ({ ok: true, latencyMs: 0 }),
        close: async () => undefined,
        prepare: async () => void log.push(`prepare ${options.id}`),
      }),
      prepare: async () => void log.push('warm type'),
    };
    return { log, specs: (text: string) => parseTestsText(text, 't.conf', { probeTypes: createProbeRegistry([type]) }).specs };
  }

  it('prepares only the shaped tests the window owes load, and puts the shape on the job', async () => {
    const { log, specs } = recordingType();
    const window = { startWall: START, endWall: START + 60_000 };
    const text = [
      'now|rec|60,120|none|id=now|start=2026-12-01T13:59:00Z|step=1m',
      'later|rec|60|none|id=later|start=2026-12-01T14:01:00Z',
      'ended|rec|60|none|id=ended|end=2026-12-01T14:00:00Z',
      'paused|rec|0,0|none|id=paused|start=2026-12-01T13:00:00Z|step=1m',
      'flat|rec|60|none|id=flat',
    ].join('\n');
    const jobs = await testJobs(specs(text), { logger: silentLogger, clock: new FakeClock(), deadlineMs: 1_000, window });
    expect(jobs.map((j) => j.name)).toEqual(['now', 'later', 'ended', 'paused', 'flat']);
    expect(log).toEqual(['warm type', 'prepare now', 'prepare flat']);
    expect(jobs[0]!.shape).toEqual(jobs[0]!.spec.shape);
    expect(jobs[4]!.shape).toBeUndefined();
  });

  it('warms no probe type whose every test the window owes nothing', async () => {
    const { log, specs } = recordingType();
    await testJobs(specs('later|rec|60|none|id=later|start=2026-12-01T14:01:00Z'), {
      logger: silentLogger,
      clock: new FakeClock(),
      deadlineMs: 1_000,
      window: { startWall: START, endWall: START + 60_000 },
    });
    expect(log).toEqual([]);
  });
});
