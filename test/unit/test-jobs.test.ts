/** Probes are created and prepared in one place (commands/test-jobs.ts), for the start-up config and reloads alike. */
import { describe, expect, it } from 'vitest';
import { testJobs } from '../../src/commands/test-jobs.js';
import { parseTestsText } from '../../src/config/tests-file.js';
import type { LogFields } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import type { ProbeType } from '../../src/probes/probe.js';
import { createProbeRegistry } from '../../src/probes/registry.js';
import { FakeClock } from '../support/fake-clock.js';

function recordingType() {
  const log: string[] = [];
  const type: ProbeType<{ name: string }> = {
    name: 'rec',
    defaultConcurrency: 1,
    parse: (params) => ({ ok: true, options: { name: params.get('id')?.[0] ?? '' }, timeoutMs: 1_000 }),
    create(options) {
      if (options.name === 'broken') throw new Error('cannot');
      log.push(`create ${options.name}`);
      return {
        execute: async () => ({ ok: true, latencyMs: 0 }),
        close: async () => void log.push(`close ${options.name}`),
        prepare: async () => void log.push(`prepare ${options.name}`),
      };
    },
    prepare: async () => void log.push('warm type'),
  };
  const specs = (text: string) => parseTestsText(text, 't.conf', { probeTypes: createProbeRegistry([type]) }).specs;
  return { log, specs };
}

describe('testJobs', () => {
  it('creates and prepares each new running test once the type is warm; a paused test is created, not prepared', async () => {
    const { log, specs } = recordingType();
    const jobs = await testJobs(specs('a|rec|60|none|id=a\np|rec|0|none|id=p'), { logger: silentLogger, clock: new FakeClock(), deadlineMs: 1_000 });
    expect(jobs.map((j) => [j.name, j.key, j.frequency, j.concurrency, j.timeoutMs])).toEqual([
      ['a', jobs[0]!.spec.fingerprint, 60, 1, 1_000],
      ['p', jobs[1]!.spec.fingerprint, 0, 1, 1_000],
    ]);
    expect(log).toEqual(['warm type', 'create a', 'create p', 'prepare a']);
    await jobs[0]!.close?.();
    expect(log.at(-1)).toBe('close a');
  });

  it('on a reload keeps the job of an unchanged test, and creates and prepares a new or changed one', async () => {
    const { log, specs } = recordingType();
    const first = await testJobs(specs('a|rec|60|none|id=a\nb|rec|60|none|id=b'), { logger: silentLogger, clock: new FakeClock(), deadlineMs: 1_000 });
    log.length = 0;
    const running = new Map(first.map((j) => [j.name, j]));
    const next = await testJobs(specs('a|rec|60|none|id=a\nb|rec|120|none|id=b\nc|rec|60|none|id=c'), { logger: silentLogger, clock: new FakeClock(), deadlineMs: 1_000, running });
    expect(next[0]).toBe(first[0]);
    expect(next[1]).not.toBe(first[1]);
    expect(log).toEqual(['warm type', 'create b', 'create c', 'prepare b', 'prepare c']);
  });

  it('leaves out a test whose probe cannot be created, and says so', async () => {
    const { specs } = recordingType();
    const errors: [string, LogFields | undefined][] = [];
    const logger = { ...silentLogger, error: (msg: string, fields?: LogFields) => void errors.push([msg, fields]) };
    const jobs = await testJobs(specs('x|rec|60|none|id=broken\nok|rec|60|none|id=ok'), { logger, clock: new FakeClock(), deadlineMs: 1_000 });
    expect(jobs.map((j) => j.name)).toEqual(['ok']);
    expect(errors).toEqual([['could not create probe', { test: 'x', file: 't.conf', line: 1, error: 'Error: cannot' }]]);
  });
});
