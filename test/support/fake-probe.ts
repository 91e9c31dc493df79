import type { ProbeResult } from '../../src/events.js';
import type { Probe, ProbeType } from '../../src/probes/probe.js';

/** Options of the `fake` probe type used by unit tests: `ms` (latency), `fail` (a reason), `timeout` (ms, default 1000). */
export interface FakeOptions {
  ms: number;
  fail?: string;
}

/** A probe type for unit tests: no I/O, results decided by its fields. */
export function fakeProbeType(hooks: { onExecute?: (signal: AbortSignal) => Promise<ProbeResult> } = {}): ProbeType<FakeOptions> {
  return {
    name: 'fake',
    defaultConcurrency: 100,
    parse(params) {
      const issues = [];
      for (const key of params.keys()) if (key !== 'ms' && key !== 'fail' && key !== 'timeout') issues.push({ field: key, message: 'unknown key; fake accepts ms, fail' });
      const ms = Number(params.get('ms')?.[0] ?? '0');
      if (!Number.isFinite(ms)) issues.push({ field: 'ms', message: 'expected a number' });
      if (issues.length) return { ok: false, issues };
      const fail = params.get('fail')?.[0];
      return { ok: true, options: { ms, ...(fail ? { fail } : {}) }, timeoutMs: Number(params.get('timeout')?.[0] ?? '1000') };
    },
    create(options): Probe {
      return {
        execute: (signal) =>
          hooks.onExecute
            ? hooks.onExecute(signal)
            : Promise.resolve(options.fail ? { ok: false, latencyMs: options.ms, reason: options.fail } : { ok: true, latencyMs: options.ms }),
        close: async () => {},
      };
    },
  };
}
