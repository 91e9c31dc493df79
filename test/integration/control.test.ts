import { rename, rm, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { startUdpStatsd } from '../support/listeners.js';
import { agentHome, cleanups, runCli, spawnCli, startTarget, waitFor } from '../support/cli.js';

const cleanup = cleanups();

describe('lock slots (real CLI processes)', () => {
  it('lets exactly three of five simultaneous runs serve; the other two exit 0 at once and count agent.skipped', async () => {
    const server = await startTarget();
    const sd = await startUdpStatsd();
    cleanup(server.close, sd.close);
    const home = await agentHome();
    await home.writeConfig(`t|http|600|statsd://127.0.0.1:${sd.port}|url=${server.url}/\n`);
    const runs = Array.from({ length: 5 }, () => spawnCli(['run', ...home.args, '--lifetime', '4']));
    const exitedAt: number[] = [];
    const results = await Promise.all(runs.map((r, i) => r.done.then((res) => ((exitedAt[i] = performance.now()), res))));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    const skipped = results.filter((r) => r.stderr.includes('all lock slots are busy'));
    const served = results.filter((r) => r.stderr.includes('msg=summary'));
    expect(skipped).toHaveLength(2);
    expect(served).toHaveLength(3);
    // "At once": the skipped copies are gone well before the serving copies' 4 s windows end.
    const servedExits = results.flatMap((r, i) => (r.stderr.includes('msg=summary') ? [exitedAt[i]!] : []));
    const skippedExits = results.flatMap((r, i) => (r.stderr.includes('all lock slots are busy') ? [exitedAt[i]!] : []));
    expect(Math.max(...skippedExits)).toBeLessThan(Math.min(...servedExits) - 2_000);
    // Three copies at 600/min for 4 s each.
    expect(server.count('/')).toBe(3 * 40);
    await sd.waitFor(() => sd.sum('canihaz.agent.skipped') === 2);
  });

  it('fails clearly, without crashing, when the lock directory cannot be made', async () => {
    const home = await agentHome();
    await writeFile(`${home.dir}/not-a-dir`, '');
    const r = await runCli(['run', ...home.args, '--lock-dir', `${home.dir}/not-a-dir/lock`, '--lifetime', '1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${home.dir}/not-a-dir/lock`);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('stop file (real CLI processes)', () => {
  it('makes a run exit 0 at once, sending nothing, while the stop file exists; removing it thaws', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    await home.writeConfig(`t|http|600|none|url=${server.url}/\n`);
    await writeFile(home.stopFile, '');
    const frozen = await runCli(['run', ...home.args, '--lifetime', '5']);
    expect(frozen.code).toBe(0);
    expect(frozen.durationMs).toBeLessThan(2_000);
    expect(frozen.stderr).toContain('stop file present: not running');
    expect(server.count('/')).toBe(0);
    await rm(home.stopFile);
    const thawed = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(thawed.code).toBe(0);
    expect(server.count('/')).toBe(10);
  });
});

describe('live config (real CLI processes)', () => {
  it('picks up a config written by rename-replace, as Puppet and Chef write files', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    await home.writeConfig(`a|http|600|none|url=${server.url}/a\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '4']);
    expect(await waitFor(() => server.count('/a') >= 5, 3_000)).toBe(true);
    const tmp = `${home.dir}/.tests.conf.puppettmp_1234`;
    await writeFile(tmp, `b|http|600|none|url=${server.url}/b\n`);
    await rename(tmp, home.config);
    expect(await waitFor(() => server.count('/b') >= 3, 2_000)).toBe(true);
    const aAfterSwap = server.count('/a');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(server.count('/a')).toBeLessThanOrEqual(aAfterSwap + 1);
  });

  it('logs a rejected line once per change, not once per tick, and keeps the valid lines running', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    await home.writeConfig(`a|http|600|none|url=${server.url}/a\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '3']);
    expect(await waitFor(() => server.count('/a') >= 3, 3_000)).toBe(true);
    await home.writeConfig(`a|http|600|none|url=${server.url}/a\nb|http|6OO|none|url=${server.url}/b\n`);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stderr.match(/config line skipped: .*:2: frequency/g)).toHaveLength(1);
    expect(server.count('/b')).toBe(0);
    expect(server.count('/a')).toBe(30);
  });
});
