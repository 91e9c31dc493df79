/**
 * The CLI run with its own peak RSS and CPU time: NODE_OPTIONS preloads a tiny module that writes
 * `process.resourceUsage()` to a file on exit (maxRSS is the kernel's high-water mark, in KiB).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { runCli, type CliResult } from './cli.js';

/** A finished CLI process with its own peak RSS (MB) and CPU seconds. */
export interface Measured extends CliResult {
  rssMb: number;
  cpuSeconds: number;
}

/**
 * Registers the file's beforeAll/afterAll that write and remove the preload hook, and returns
 * `measuredCli(args, killAfterMs)`: the CLI with the hook; `killAfterMs` is the watchdog.
 */
export function measuredCliHooks(): (args: string[], killAfterMs: number) => Promise<Measured> {
  let hookDir = '';
  let hook = '';
  beforeAll(async () => {
    hookDir = await mkdtemp(join(tmpdir(), 'canihaz-rusage-'));
    hook = join(hookDir, 'rusage.mjs');
    await writeFile(
      hook,
      `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const r = process.resourceUsage();
  writeFileSync(process.env.CANIHAZ_TEST_RUSAGE, JSON.stringify({ maxRssKiB: r.maxRSS, userUs: r.userCPUTime, systemUs: r.systemCPUTime }));
});
`,
    );
  });
  afterAll(async () => {
    await rm(hookDir, { recursive: true, force: true });
  });
  return async (args, killAfterMs) => {
    const out = join(hookDir, `rusage-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    const result = await runCli(args, { killAfterMs, env: { NODE_OPTIONS: `--import=${pathToFileURL(hook).href}`, CANIHAZ_TEST_RUSAGE: out } });
    let usage = { maxRssKiB: NaN, userUs: NaN, systemUs: NaN };
    try {
      usage = JSON.parse(await readFile(out, 'utf8')) as typeof usage;
    } catch {
      // Killed by the watchdog: no figures; the caller's assertions say so.
    }
    return { ...result, rssMb: usage.maxRssKiB / 1024, cpuSeconds: (usage.userUs + usage.systemUs) / 1e6 };
  };
}

/** The flush bound after a window's end (README: wall time ≤ window + longest timeout + 2 s). */
export const FLUSH_MS = 2_000;

/** Asserts the exit came at most `longestTimeoutMs` + the flush bound (+ 500 ms of process exit) after the reported window end. */
export function expectEndedOnTime(stderr: string, exitedWall: number, longestTimeoutMs: number, what: string): void {
  const m = /msg="run started" .*window_end=(\S+)/.exec(stderr);
  expect(m, `${what}: no "run started" line in:\n${stderr.slice(0, 2_000)}`).not.toBeNull();
  const late = exitedWall - Date.parse(m![1]!);
  expect(late, `${what}: exited ${late} ms after its window`).toBeLessThan(longestTimeoutMs + FLUSH_MS + 500);
}
