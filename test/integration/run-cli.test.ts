import { describe, expect, it } from 'vitest';
import { startTcpStatsd, startUdpStatsd, type StatsdListener } from '../support/listeners.js';
import { agentHome, cleanups, runCli, startTarget, type TargetServer } from '../support/cli.js';

const cleanup = cleanups();
async function target(handler?: Parameters<typeof startTarget>[0]): Promise<TargetServer> {
  const t = await startTarget(handler);
  cleanup(t.close);
  return t;
}
async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

describe('canihaz run (real CLI, real servers)', () => {
  it('counts 503s and timeouts by reason, and still ends on time', async () => {
    const failing = await target((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const hanging = await target(() => {
      /* never answers */
    });
    const sd = await statsd();
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port}`;
    await home.writeConfig(
      `busy|http|600|${dest}|url=${failing.url}/\nhang|http|120|${dest}|url=${hanging.url}/|timeout=1s\n`,
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '3', '--log-level', 'info']);
    const exitedWall = Date.now();
    expect(r.code).toBe(0);
    // Ends on time: at most the longest timeout (1 s) + the flush bound (2 s) after its window,
    // measured from the window the run itself reports (process start-up is not the run's lateness).
    const windowEnd = Date.parse(/msg="run started" .*window_end=(\S+)/.exec(r.stderr)![1]!);
    expect(exitedWall - windowEnd).toBeLessThan(3_000);
    await sd.waitFor(() => sd.sum('canihaz.busy.failed.status_503') === 30 && sd.sum('canihaz.hang.failed.timeout') === 6);
    expect(sd.sum('canihaz.busy.failed')).toBe(30);
    expect(sd.sum('canihaz.busy.ok')).toBe(0);
    expect(sd.countOf('canihaz.hang.latency')).toBe(6);
    for (const l of sd.linesOf('canihaz.hang.latency')) expect(l.value).toBeGreaterThanOrEqual(990);
  });

  it('reports a bad line with its line number while the good lines run', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`# tests\ngood|http|600|none|url=${server.url}/good\nbad|http|abc|none|url=${server.url}/bad\nalso|http|600|none|url=${server.url}/also\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`config line skipped: ${home.config}:3: frequency: expected a whole number of executions per minute, got \\"abc\\"`);
    expect(server.count('/good')).toBe(10);
    expect(server.count('/also')).toBe(10);
    expect(server.count('/bad')).toBe(0);
  });

  it('drops and counts ticks beyond `concurrency` instead of queueing them', async () => {
    const hanging = await target(() => {});
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`slow|http|1200|statsd://127.0.0.1:${sd.port}|url=${hanging.url}/|timeout=2s|concurrency=5\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    await sd.waitFor(() => sd.sum('canihaz.slow.dropped') === 15 && sd.sum('canihaz.slow.failed.timeout') === 5);
    expect(hanging.count('/')).toBe(5);
  });

  it('speaks StatsD over TCP with statsd+tcp://', async () => {
    const server = await target();
    const tcp = await startTcpStatsd();
    cleanup(tcp.close);
    const home = await agentHome();
    await home.writeConfig(`t|http|600|statsd+tcp://127.0.0.1:${tcp.port}|url=${server.url}/\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    await tcp.waitFor(() => tcp.sum('canihaz.t.ok') === 10);
  });

  it('prints console figures on stdout and nothing else there', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`shown|http|600|console|url=${server.url}/\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z test=shown count=\d+ ok=\d+ failed=0 dropped=0 missed=0 aborted=0 latency_mean=/);
    const total = lines.reduce((n, l) => n + Number(/ count=(\d+)/.exec(l)![1]), 0);
    expect(total).toBe(20);
  });

  it('logs JSON lines on request, one object per line, the summary included', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`j|http|600|none|url=${server.url}/\nbad|http|x|none|url=${server.url}/\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1', '--log-format', 'json']);
    expect(r.code).toBe(0);
    const records = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining(`${home.config}:2: frequency:`) }));
    expect(records).toContainEqual(expect.objectContaining({ level: 'notice', msg: 'summary', test: 'j', requested: 10, ok: 10 }));
  });

  it('lives its window and exits 0 when there is no config at all', async () => {
    const home = await agentHome();
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(r.stdout).toBe('');
  });

  it('honours the settings file: prefix and the default statsd address', async () => {
    const server = await target();
    const sd = await statsd();
    const home = await agentHome();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(home.settings, `statsd = 127.0.0.1:${sd.port}\nprefix = fleet.{host}\n`);
    await home.writeConfig(`p|http|600|statsd|url=${server.url}/\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    const host = (await import('node:os')).hostname().split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '_');
    await sd.waitFor(() => sd.sum(`fleet.${host}.p.ok`) === 10);
  });
});
