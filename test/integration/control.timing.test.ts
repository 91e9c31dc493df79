import { rm, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { startStuckServer, startUdpStatsd } from '../support/listeners.js';
import { agentHome, cleanups, spawnCli, startTarget, waitFor } from '../support/cli.js';

const cleanup = cleanups();

/** Arrivals at the target later than `t` (performance.now() ms). */
const after = (times: number[] | undefined, t: number) => (times ?? []).filter((x) => x > t).length;

describe('stop file and signals: reaction times (real CLI processes)', () => {
  it('a stop file created mid-run aborts in-flight executions and exits 0 within 500 ms, starting nothing after it', async () => {
    const hanging = await startTarget(() => {});
    const sd = await startUdpStatsd();
    cleanup(hanging.close, sd.close);
    const home = await agentHome();
    await home.writeConfig(`h|http|6000|statsd://127.0.0.1:${sd.port}|url=${hanging.url}/|timeout=30s\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '30']);
    expect(await waitFor(() => hanging.count('/') >= 20, 5_000)).toBe(true);
    const created = performance.now();
    await writeFile(home.stopFile, '');
    const r = await run.done;
    const exitedAfter = performance.now() - created;
    expect(r.code).toBe(0);
    expect(exitedAfter, `exit ${exitedAfter.toFixed(0)} ms after the stop file`).toBeLessThan(500);
    // Polling bounds detection to 100 ms even without inotify; at 100/s a late tick would show.
    expect(after(hanging.hits.get('/'), created + 100)).toBe(0);
    // Every execution in flight was aborted (not failed), and every abort reached StatsD.
    const summary = /msg=summary test=h requested=\d+ started=(\d+) ok=0 failed=0 dropped=0 missed=0 aborted=(\d+)/.exec(r.stderr);
    expect(summary, r.stderr).not.toBeNull();
    const [, started, aborted] = summary!.map(Number);
    expect(aborted).toBe(started);
    expect(hanging.count('/')).toBeLessThanOrEqual(aborted!);
    await sd.waitFor(() => sd.sum('canihaz.h.aborted') === aborted);
    expect(sd.sum('canihaz.h.failed')).toBe(0);
  });

  it('SIGTERM takes the same path for this copy: exits 0 within 500 ms, every in-flight execution aborted', async () => {
    const hanging = await startTarget(() => {});
    cleanup(hanging.close);
    const home = await agentHome();
    await home.writeConfig(`h|http|600|none|url=${hanging.url}/|timeout=30s\n`);
    const first = spawnCli(['run', ...home.args, '--lifetime', '30']);
    expect(await waitFor(() => hanging.count('/') >= 3, 5_000)).toBe(true);
    const sent = performance.now();
    first.child.kill('SIGTERM');
    const r = await first.done;
    expect(r.code).toBe(0);
    expect(performance.now() - sent).toBeLessThan(500);
    expect(r.stderr).toMatch(/msg=summary test=h requested=\d+ started=(\d+) ok=0 failed=0 dropped=0 missed=0 aborted=\1/);
  });

  it('a second SIGTERM while the first stop is still flushing exits at once with 143', async () => {
    // The first stop is held open by a Graphite that accepts and never reads: the sink waits for
    // the server to close its side until the stop's flush deadline (250 ms, STOP_FLUSH_DEADLINE_MS),
    // so a graceful stop takes that long and a second signal lands while it is under way.
    let abortedRequests = 0;
    const hanging = await startTarget((req) => req.socket.once('close', () => (abortedRequests += 1)));
    const graphite = await startStuckServer();
    cleanup(hanging.close, graphite.close);
    const home = await agentHome();
    await home.writeConfig(`h|http|600|graphite://127.0.0.1:${graphite.port}|url=${hanging.url}/|timeout=30s\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '30']);
    expect(await waitFor(() => hanging.count('/') >= 3 && graphite.connections >= 1, 5_000)).toBe(true);
    run.child.kill('SIGTERM');
    // The first stop is under way once it has aborted the in-flight requests (standard signals do
    // not queue: two sent back to back could arrive as one).
    expect(await waitFor(() => abortedRequests >= 1, 2_000), 'the first SIGTERM aborted the in-flight requests').toBe(true);
    const second = performance.now();
    run.child.kill('SIGTERM');
    const r = await run.done;
    const exitedAfter = performance.now() - second;
    expect(r.code, `exit code (0: the first stop ended before the second signal). stderr:\n${r.stderr}`).toBe(128 + 15);
    // At once: well inside what is left of the 250 ms flush a graceful stop would wait out.
    expect(exitedAfter, `exit ${exitedAfter.toFixed(0)} ms after the second SIGTERM`).toBeLessThan(150);
  });
});

describe('live config: reaction times (real CLI processes)', () => {
  it('starts a config that appears mid-run within 250 ms, at its share of the rest of the window', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    const run = spawnCli(['run', ...home.args, '--lifetime', '4']);
    await new Promise((r) => setTimeout(r, 1_000));
    const written = performance.now();
    await home.writeConfig(`n|http|6000|none|url=${server.url}/n\n`);
    expect(await waitFor(() => server.count('/n') >= 1, 2_000)).toBe(true);
    const reaction = server.hits.get('/n')![0]! - written;
    expect(reaction, `first request ${reaction.toFixed(0)} ms after the write`).toBeLessThan(250);
    const r = await run.done;
    expect(r.code).toBe(0);
    // 100/s for what was left of the window, with no burst for the part before it appeared.
    const hits = server.hits.get('/n')!;
    const first = hits[0]!;
    const last = hits[hits.length - 1]!;
    expect(after(hits, first - 1) - after(hits, first + 100)).toBeLessThanOrEqual(12);
    expect(hits.length).toBeLessThanOrEqual(Math.round((last - first) / 10) + 3);
    expect(hits.length).toBeGreaterThan(200);
  });

  it('stops a removed config within 250 ms and re-plans a changed frequency from now', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    await home.writeConfig(`a|http|6000|none|url=${server.url}/a\nb|http|600|none|url=${server.url}/b\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '5']);
    expect(await waitFor(() => server.count('/a') >= 50, 3_000)).toBe(true);
    // Change b to 6000/min and drop a.
    const changed = performance.now();
    await home.writeConfig(`b|http|6000|none|url=${server.url}/b\n`);
    expect(await waitFor(() => after(server.hits.get('/b'), changed) >= 20, 2_000)).toBe(true);
    expect(after(server.hits.get('/a'), changed + 250)).toBe(0);
    // Remove the file: everything stops.
    const removed = performance.now();
    await rm(home.config);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(after(server.hits.get('/b'), removed + 250)).toBe(0);
    expect(r.stderr).toMatch(/msg=summary test=a /);
  });
});
