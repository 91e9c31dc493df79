// The watchdog (src/control/watchdog.ts): a scenario module that never yields cannot be interrupted
// on the event loop, so a thread of the copy's own kills it once its loop has been blocked for
// blocked_limit, or within STOP_FILE_GRACE_MS of a stop file appearing. Real child processes of the
// CLI, real module files, a real HTTP target on 127.0.0.1.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { STOP_FILE_GRACE_MS } from '../../src/control/watchdog.js';
import { agentHome, cleanups, runCli, spawnCli, startTarget, type AgentHome } from '../support/cli.js';

const later = cleanups();

/** An agent home with a 0755 types_dir holding `modules` (name → source, each 0644). */
async function homeWith(modules: Record<string, string>): Promise<AgentHome & { args: string[] }> {
  const home = await agentHome();
  const types = join(home.dir, 'types');
  await mkdir(types);
  await chmod(types, 0o755);
  for (const [name, text] of Object.entries(modules)) {
    const file = join(types, `${name}.mjs`);
    await writeFile(file, text);
    await chmod(file, 0o644);
  }
  return { ...home, args: [...home.args, '--types-dir', types] };
}

/** Spins on its third execution: the copy runs normally until then. */
const SPINS_IN_EXECUTION = 'let n = 0;\nexport default async function () { if (++n === 3) for (;;) {} }\n';
const SPINS_AT_IMPORT = 'for (;;) {}\nexport default async function () {}\n';
const QUICK = 'export default async function () {}\n';

describe('the watchdog', () => {
  it('kills a run whose scenario module spins in an execution, blocked_limit after the loop stopped', async () => {
    const target = await startTarget();
    later(() => target.close());
    const home = await homeWith({ spin: SPINS_IN_EXECUTION });
    // 120/min: the third execution starts about 1 s into the window.
    await home.writeConfig(`spin|spin|120|none\nweb|http|600|none|url=${target.url}/\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '30', '--blocked-limit', '2'], { killAfterMs: 40_000 });
    expect(r.signal).toBe('SIGKILL');
    expect(r.stderr).toMatch(/level=error msg="event loop blocked for [23]s \(operator code that never yields, e\.g\. a scenario module in a busy loop\): killing this copy \(SIGKILL\)" pid=\d+/);
    // Ran normally until the module spun (the http test was served), and died long before its 30 s window ended.
    expect(target.count('/')).toBeGreaterThan(0);
    expect(r.durationMs).toBeLessThan(15_000);
  });

  it('kills a spinning copy within the stop-file grace once a stop file appears, without waiting for blocked_limit', async () => {
    const home = await homeWith({ spin: SPINS_AT_IMPORT });
    await home.writeConfig('spin|spin|60|none\n');
    const copy = spawnCli(['run', ...home.args, '--lifetime', '30', '--blocked-limit', '600', '--log-format', 'json'], { killAfterMs: 40_000 });
    // The copy is spinning in the module's import; let it spin a moment, then freeze the fleet.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const stoppedAt = performance.now();
    await writeFile(home.stopFile, '');
    const r = await copy.done;
    const afterStop = performance.now() - stoppedAt;
    expect(r.signal).toBe('SIGKILL');
    // The loop has been still since the import, so the grace has passed: killed at the next check or two.
    expect(afterStop).toBeLessThan(STOP_FILE_GRACE_MS + 3_000);
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', msg: expect.stringMatching(/^stop file present and event loop blocked for \d+s/) as unknown });
  });

  it('ends a check (Puppet validate_cmd) whose module spins at import', async () => {
    const home = await homeWith({ spin: SPINS_AT_IMPORT });
    await home.writeConfig('spin|spin|60|none\n');
    const r = await runCli(['check', ...home.args, '--blocked-limit', '2'], { killAfterMs: 20_000 });
    expect(r.signal).toBe('SIGKILL');
    expect(r.stderr).toContain('event loop blocked for');
    expect(r.durationMs).toBeLessThan(10_000);
  });

  it('is never felt by a module that yields: the run ends with its window, exit 0, nothing killed', async () => {
    const home = await homeWith({ quick: QUICK });
    await home.writeConfig('quick|quick|600|none\n');
    const r = await runCli(['run', ...home.args, '--lifetime', '3', '--blocked-limit', '1', '--log-level', 'info'], { killAfterMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('event loop blocked');
    expect(r.stderr).toMatch(/msg=summary test=quick requested=30 started=30 ok=30 failed=0/);
  });
});
