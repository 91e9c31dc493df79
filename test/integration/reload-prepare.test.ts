/**
 * Regression (issue 8): a test added by a config reload had its probe created by the scheduler and
 * never prepared, so its first execution also paid for the connection. Probes are now created and
 * prepared in one place, for the start-up config and for reloads alike: the connection of a test
 * added mid-run is opened when the reload applies it, long before its first tick.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, spawnCli, startTarget, waitFor } from '../support/cli.js';

const cleanup = cleanups();

describe('a test added by a reload', () => {
  it('has its first connection opened when the reload applies it, not at its first tick', async () => {
    const target = await startTarget();
    cleanup(() => target.close());
    const { connections } = target;
    const requests = () => target.hits.get('/late') ?? [];
    const url = `${target.url}/late`;
    const home = await agentHome();
    await home.writeConfig('# no tests yet\n');
    // Phase off: a 6/min test's ticks fall on the window start + 0 s, 10 s; added at ~1 s, its first tick is at 10 s.
    const run = spawnCli(['run', ...home.args, '--lifetime', '12', '--phase', 'off', '--log-level', 'info'], { killAfterMs: 40_000 });
    expect(await waitFor(() => run.stderr.includes('msg="run started"'), 10_000)).toBe(true);
    await home.writeConfig(`late|http|6|none|url=${url}\n`);
    expect(await waitFor(() => run.stderr.includes('msg="test added" test=late'), 5_000), run.stderr).toBe(true);
    const added = performance.now();
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(requests().length, r.stderr).toBeGreaterThanOrEqual(1);
    // Prepared: a connection was open by the time the reload was applied, seconds before the first request.
    expect(connections.length).toBeGreaterThanOrEqual(1);
    expect(connections[0]!, 'first connection opened at the reload').toBeLessThan(added + 500);
    expect(requests()[0]! - connections[0]!, 'first request long after the connection').toBeGreaterThan(3_000);
  });
});
