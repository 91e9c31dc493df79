import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startGraphite, startUdpStatsd } from '../support/listeners.js';
import { agentHome, cleanups, percentile, runCli, startTarget } from '../support/cli.js';

const cleanup = cleanups();

// The acceptance run: exact counts, even spacing at the server, StatsD and Graphite agreeing.
describe('pacing (real CLI, real servers)', () => {
  it('paces two tests evenly and reports every execution to StatsD and Graphite', async () => {
    const server = await startTarget();
    const sd = await startUdpStatsd();
    const gr = await startGraphite();
    cleanup(server.close, sd.close, gr.close);
    // Warm the test's own HTTP server (its parser and handler JIT) so its first-request cost is not
    // measured as the agent's unevenness; then forget those requests.
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/warm`).then((r) => r.text());
    server.hits.clear();
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port},graphite://127.0.0.1:${gr.port}`;
    await home.writeConfig(`fast|http|1200|${dest}|url=${server.url}/fast\nslow|http|600|${dest}|url=${server.url}/slow\n`);

    const r = await runCli(['run', ...home.args, '--lifetime', '5']);
    expect(r.stderr).not.toMatch(/level=(warn|error)/);
    expect(r.code).toBe(0);
    expect(r.durationMs).toBeLessThan(7_000);

    expect(Math.abs(server.count('/fast') - 100)).toBeLessThanOrEqual(1);
    expect(Math.abs(server.count('/slow') - 50)).toBeLessThanOrEqual(1);
    // The agent's own lag per tick (scheduled → dispatched), to tell its stalls from the server's.
    await sd.waitFor(() => sd.countOf('canihaz.fast.lag') === server.count('/fast'));
    const lags = sd.linesOf('canihaz.fast.lag').map((l) => l.value);
    for (const [path, gap] of [['/fast', 50], ['/slow', 100]] as const) {
      const times = server.hits.get(path)!;
      const deviations = times.slice(1).map((t, i) => Math.abs(t - times[i]! - gap));
      const worst = deviations.map((d, i) => `#${i + 1}:${d.toFixed(1)}`).filter((_, i) => deviations[i]! > 5);
      expect(percentile(deviations, 99), `${path} p99 deviation from a ${gap} ms gap; gaps off by > 5 ms: ${worst.join(' ')}; agent max lag ${Math.max(...lags)} ms`).toBeLessThan(10);
    }

    // StatsD: ok counters and a latency timing for every execution; the lag timer beside them.
    await sd.waitFor(() => sd.sum('canihaz.fast.ok') === server.count('/fast') && sd.sum('canihaz.slow.ok') === server.count('/slow'));
    expect(sd.countOf('canihaz.fast.latency')).toBe(server.count('/fast'));
    expect(sd.countOf('canihaz.slow.latency')).toBe(server.count('/slow'));
    expect(sd.countOf('canihaz.fast.lag')).toBe(server.count('/fast'));
    expect(sd.sum('canihaz.fast.failed')).toBe(0);

    // Graphite: per-host paths, `.count` points adding up (last value per path+timestamp wins).
    const host = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '_');
    await gr.waitFor(() => gr.sum(`canihaz.${host}.fast.count`) === server.count('/fast'));
    expect(gr.sum(`canihaz.${host}.slow.count`)).toBe(server.count('/slow'));
    expect(gr.sum(`canihaz.${host}.fast.ok`)).toBe(server.count('/fast'));
    for (const ts of gr.timestampsOf(`canihaz.${host}.fast.count`)) expect(ts % 10).toBe(0);
    expect(gr.latest().some((p) => p.path === `canihaz.${host}.fast.latency.p99`)).toBe(true);

    // The summary line counts what happened.
    expect(r.stderr).toMatch(/level=notice msg=summary test=fast requested=100 started=100 ok=100 failed=0 dropped=0 missed=0 aborted=0/);
  });

});
