/**
 * Many copies of `canihaz run` side by side, told apart at the target: each copy runs a one-test
 * config of its own whose URL path is its own (`/c<n>`), so the target's hits per path are one copy's
 * requests, and the overlap of those windows is how many copies served at once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { AgentHome, CliResult, TargetServer } from './cli.js';
import { parseLogfmt } from './faults.js';

/** Writes copy `n`'s config (`c<n>|http|600|<destination>|url=<target>/c<n>`) and returns its path. */
export function copyConfig(home: AgentHome, target: TargetServer, n: number, destination = 'none'): string {
  const file = join(home.dir, `copy-${n}.conf`);
  writeFileSync(file, `c${n}|http|600|${destination}|url=${target.url}/c${n}\n`);
  return file;
}

/** The most copies whose requests overlapped in time, each copy's window being its [first, last] request at the target. */
export function mostServingAtOnce(target: TargetServer): number {
  const edges: [number, number][] = [];
  for (const times of target.hits.values()) edges.push([Math.min(...times), +1], [Math.max(...times), -1]);
  // At equal times a start counts before an end: touching windows count as overlapping (stricter).
  edges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

/** The slot a serving copy logged in its `run started` line (needs `--log-level info`). */
export function slotOf(stderr: string): number | undefined {
  const line = stderr.split('\n').find((l) => l.includes('msg="run started"'));
  return line ? Number(parseLogfmt(line).slot) : undefined;
}

/** True when the copy lived a window (it printed a summary). */
export const served = (r: CliResult): boolean => r.stderr.includes('msg=summary');
/** True when the copy found every lock slot busy. */
export const skipped = (r: CliResult): boolean => r.stderr.includes('all lock slots are busy');

/** The test name in a copy's summary line (each copy runs one test of its own). */
export function summaryTest(r: CliResult): string {
  const line = r.stderr.split('\n').find((l) => l.includes('msg=summary'));
  expect(line, r.stderr).toBeDefined();
  return parseLogfmt(line!).test!;
}
