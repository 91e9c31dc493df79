import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, startTarget, type AgentHome } from '../support/cli.js';
import { freePort, startGraphite, startStuckServer, type GraphiteListener, type GraphitePoint } from '../support/listeners.js';
import { expectPrivateResolver, privateResolverRuns, privateResolverSkipNote, runCliWithDns, startPrivateDns } from '../support/private-resolver.js';

// `canihaz replay` through the real CLI: one real run whose tests name two Graphite destinations, a
// capturing listener (what the live sink sends when Graphite is up) and a closed port (Graphite
// down: the live sink lost every point). Replaying the run's journal must give the down server what
// the up one got: the same paths, values and timestamps.

const cleanup = cleanups();
const KILL_AFTER_MS = 60_000;

/** Each stored point as `path value timestamp`, sorted: what Graphite holds (the last value per path and timestamp). */
const stored = (points: GraphitePoint[]) => points.map((p) => `${p.path} ${p.value} ${p.timestamp}`).sort();

async function graphite(): Promise<GraphiteListener> {
  const g = await startGraphite();
  cleanup(g.close);
  return g;
}

let home: AgentHome;
let stateDir: string;
/** The live sink's points, from the destination that was up. */
let live: GraphitePoint[];
/** The port of the destination that was down during the run. */
let downPort: number;

const replay = (...args: string[]) => runCli(['replay', '--settings', home.settings, '--state-dir', stateDir, ...args], { killAfterMs: KILL_AFTER_MS });

beforeAll(async () => {
  const target = await startTarget((req, res) => {
    // Every third /search fails.
    if (req.url === '/search' && Math.random() < 1 / 3) res.statusCode = 503;
    res.end('ok');
  });
  const up = await startGraphite();
  downPort = await freePort();
  home = await agentHome();
  stateDir = join(home.dir, 'state');
  await mkdir(stateDir);
  const dest = `graphite://127.0.0.1:${up.port},graphite://127.0.0.1:${downPort}`;
  await home.writeConfig(`home|http|600|${dest}|url=${target.url}/home\nsearch|http|300|${dest}|url=${target.url}/search\n`);
  const run = await runCli(['run', ...home.args, '--state-dir', stateDir, '--lifetime', '3'], { killAfterMs: KILL_AFTER_MS });
  await target.close();
  await up.close();
  expect(run.code, run.stderr).toBe(0);
  // The down destination lost its points, and said so.
  expect(run.stderr).toContain(`graphite://127.0.0.1:${downPort}`);
  live = up.latest();
  expect(up.malformed).toEqual([]);
}, KILL_AFTER_MS);

describe('canihaz replay', () => {
  it('sends the journal as the live sink sent it: the same paths, values and timestamps', async () => {
    expect(live.some((p) => /\.home\.latency\.p99$/.test(p.path))).toBe(true);
    expect(live.some((p) => /\.search\.failed$/.test(p.path) && p.value > 0)).toBe(true);
    // The cumulative latency counters are among them (issue 11 item 5): le_inf is each interval's count.
    const last = (suffix: string) => new Map(live.filter((p) => p.path.endsWith(suffix)).map((p) => [`${p.path.slice(0, -suffix.length)}@${p.timestamp}`, p.value]));
    const [count, leInf] = [last('.count'), last('.latency.le_inf')];
    expect(leInf.size).toBeGreaterThan(0);
    for (const [at, n] of leInf) expect(n, at).toBe(count.get(at));
    const g = await graphite();
    const r = await replay('--to', `graphite://127.0.0.1:${g.port}`, '--since', '10m');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    // An interval late completions changed was written to the journal again, and is sent again after its first version.
    const resent = '(?:; \\d+ intervals? sent again with the figures late completions gave it, as the run did)?';
    expect(r.stdout).toMatch(new RegExp(`^sent ${g.points.length} points of \\d+ intervals \\(2 tests, 1 run${resent}\\) between \\S+Z and \\S+Z to graphite://127\\.0\\.0\\.1:${g.port}\\n$`));
    expect(g.malformed).toEqual([]);
    // What Graphite holds afterwards (the last value per path and timestamp) is what the live sink left.
    expect(stored(g.latest())).toEqual(stored(live));
  });

  it('replaying twice sends the same lines again (Graphite keeps the last value: nothing changes)', async () => {
    const [a, b] = [await graphite(), await graphite()];
    expect((await replay('--to', `graphite://127.0.0.1:${a.port}`, '--since', '10m')).code).toBe(0);
    expect((await replay('--to', `graphite://127.0.0.1:${b.port}`, '--since', '10m')).code).toBe(0);
    expect(b.points.map((p) => p.raw)).toEqual(a.points.map((p) => p.raw));
  });

  it('--test limits it to those tests; a test without intervals is said', async () => {
    const g = await graphite();
    const r = await replay('--to', `graphite://127.0.0.1:${g.port}`, '--since', '10m', '--test', 'search', '--test', 'nope');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(1 test, 1 run[;)]/);
    expect(r.stderr).toMatch(/^canihaz: no intervals of test "nope" between /);
    expect(stored(g.latest())).toEqual(stored(live.filter((p) => /\.search\./.test(p.path))));
  });

  it('an empty range says so, exits 0 and connects to nothing', async () => {
    const g = await graphite();
    const r = await replay('--to', `graphite://127.0.0.1:${g.port}`, '--from', '2020-01-01', '--to', '2020-01-02');
    expect([r.code, r.stdout, r.stderr]).toEqual([
      0,
      `no intervals between 2020-01-01T00:00:00.000Z and 2020-01-02T00:00:00.000Z (no journal files in ${join(stateDir, 'journal')}): nothing sent\n`,
      '',
    ]);
    expect(g.connections).toBe(0);
  });

  it('refused: exit 69, one line naming the destination', async () => {
    const r = await replay('--to', `graphite://127.0.0.1:${downPort}`, '--since', '10m');
    expect(r.code).toBe(69);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`canihaz: graphite://127.0.0.1:${downPort}: connection refused (is the server down, or is this the wrong port?); nothing was sent\n`);
  });

  it('a server that accepts and never reads: ends by --timeout with exit 69', async () => {
    const stuck = await startStuckServer();
    cleanup(stuck.close);
    const r = await replay('--to', `graphite://127.0.0.1:${stuck.port}`, '--since', '10m', '--timeout', '1s');
    expect(r.code, r.stderr).toBe(69);
    expect(r.durationMs).toBeLessThan(8_000);
    // The run's few KB fit in the socket buffers: the server's missing close is what gives it away.
    expect(r.stderr).toMatch(
      new RegExp(`^canihaz: graphite://127\\.0\\.0\\.1:${stuck.port}: the server did not close its side within 1 s \\(--timeout\\) of ours, so it may not have read everything; \\d+ points had been written before`),
    );
  });

  it.skipIf(!privateResolverRuns)(`a name that does not resolve: exit 69 naming it${privateResolverSkipNote}`, async () => {
    expectPrivateResolver();
    const dns = await startPrivateDns({ answer: 'nxdomain', forCli: true });
    cleanup(dns.close);
    const r = await runCliWithDns(dns, ['replay', '--settings', home.settings, '--state-dir', stateDir, '--to', 'graphite://nonexistent.invalid:2003', '--since', '10m']);
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr).toMatch(/^canihaz: graphite:\/\/nonexistent\.invalid:2003: cannot resolve nonexistent\.invalid: .*; nothing was sent\n$/);
  });
});

describe('canihaz replay of a large journal (written here: 100 tests x 240 intervals)', () => {
  const START = Date.UTC(2026, 10, 20, 10, 0, 0);
  const TESTS = 100;
  const INTERVALS = 240;
  let dir: string;
  let settings: string;

  beforeAll(async () => {
    const h = await agentHome();
    settings = h.settings;
    dir = join(h.dir, 'state');
    await mkdir(join(dir, 'journal'), { recursive: true });
    const lines: string[] = [JSON.stringify({ v: 1, kind: 'run', run: 'big', host: 'web-7.example.com', slot: 0, start: START, end: START + INTERVALS * 10_000, ended: 'window end', at: START, books: {} })];
    for (let i = 0; i < INTERVALS; i++) {
      for (let t = 0; t < TESTS; t++) {
        const latency = { mean: 1.5 + t, p50: 1.25, p90: 2, p99: 3.125, max: 4 };
        lines.push(JSON.stringify({ v: 1, kind: 'interval', run: 'big', test: `t${t}`, start: START + i * 10_000, requested: 10, ok: 9, failed: 1, dropped: 0, missed: 0, aborted: 0, failures: { timeout: 1 }, latency, hist: { n: 10, sum: 15, min: 1, max: 4, b: [900, 10] } }));
      }
    }
    await writeFile(join(dir, 'journal', '2026-11-20.jsonl'), lines.join('\n') + '\n');
  });

  const args = () => ['replay', '--settings', settings, '--state-dir', dir, '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-21T00:00:00Z'];

  it('sends every point with backpressure, under the run host\'s prefix', async () => {
    const g = await graphite();
    const r = await runCli([...args(), '--to', `graphite://127.0.0.1:${g.port}`], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(0);
    const points = TESTS * INTERVALS * 11;
    expect(r.stdout).toMatch(new RegExp(`^sent ${points} points of ${TESTS * INTERVALS} intervals \\(${TESTS} tests, 1 run\\)`));
    await g.waitFor(() => g.points.length === points);
    expect(g.valueAt('canihaz.web-7.t3.latency.mean', START / 1000 + 10)).toBe(4.5);
    expect(g.valueAt('canihaz.web-7.t99.count', START / 1000 + 2390)).toBe(10);
  });

  it('--to graphite is the graphite setting; the prefix is the graphite_prefix setting, {host} the run\'s host', async () => {
    const g = await graphite();
    await writeFile(settings, `graphite = 127.0.0.1:${g.port}\ngraphite_prefix = lt.{host}.agent\n`);
    try {
      const r = await runCli([...args(), '--to', 'graphite', '--test', 't3'], { killAfterMs: KILL_AFTER_MS });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`(1 test, 1 run) between 2026-11-20T00:00:00.000Z and 2026-11-21T00:00:00.000Z to graphite://127.0.0.1:${g.port}\n`);
      expect(new Set(g.points.map((p) => p.path.split('.').slice(0, 4).join('.')))).toEqual(new Set(['lt.web-7.agent.t3']));
      expect(g.points).toHaveLength(INTERVALS * 11);
    } finally {
      await writeFile(settings, '# test settings\n');
    }
  });

  it('a server that never reads, with more than the socket buffers hold: ends by --timeout with exit 69', async () => {
    const stuck = await startStuckServer();
    cleanup(stuck.close);
    const r = await runCli([...args(), '--to', `graphite://127.0.0.1:${stuck.port}`, '--timeout', '1s'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(69);
    expect(r.durationMs).toBeLessThan(8_000);
    expect(r.stderr).toMatch(new RegExp(`^canihaz: graphite://127\\.0\\.0\\.1:${stuck.port}: the server took nothing for 1 s \\(--timeout\\): it accepts but does not read; \\d+ points had been written before`));
  });

  it('a reset mid-stream: exit 69, saying how many points had been written', async () => {
    let received = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.on('data', (d) => {
        received += d.length;
        if (received > 200_000) socket.resetAndDestroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as net.AddressInfo).port;
    const r = await runCli([...args(), '--to', `graphite://127.0.0.1:${port}`], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(69);
    const m = new RegExp(`^canihaz: graphite://127\\.0\\.0\\.1:${port}: (the connection was reset by the server|the server closed the connection); (\\d+) points had been written before`).exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeLessThan(TESTS * INTERVALS * 11);
  });
});

describe('canihaz replay of a journal with a re-written interval, a plan-only interval and damaged lines', () => {
  it('sends both versions in the order written (the last stays), skips the plan-only one, counts the damaged lines; custom metrics as the live sink names them', async () => {
    const h = await agentHome();
    const dir = join(h.dir, 'state');
    await mkdir(join(dir, 'journal'), { recursive: true });
    const START = Date.UTC(2026, 10, 21, 8, 0, 0);
    const interval = (start: number, ok: number, latency: object | null, metrics?: object[]) =>
      JSON.stringify({ v: 1, kind: 'interval', run: 'r1', test: 'home', start, requested: 3, ok, failed: 0, dropped: 0, missed: 0, aborted: 0, failures: {}, latency, hist: null, ...(metrics ? { metrics } : {}) });
    // A scenario's own figures, in first-seen order: a timing's distribution, a counter's sum, a gauge's last value.
    const metrics = [
      { name: 'step.login', kind: 'timing', summary: { mean: 5, p50: 5, p90: 6, p99: 6, max: 6.5 }, hist: { n: 3, sum: 15, min: 4, max: 6.5, b: [900, 3] } },
      { name: 'items', kind: 'counter', value: 7 },
      { name: 'days_left', kind: 'gauge', value: 12.25 },
    ];
    const file = join(dir, 'journal', '2026-11-21.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ v: 1, kind: 'run', run: 'r1', host: 'db-2', slot: 1, start: START, end: START + 60_000, ended: null, at: START, books: {} }),
        interval(START, 2, { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 }),
        interval(START + 10_000, 0, null),
        'not a record',
        interval(START, 3, { mean: 2.5, p50: 2, p90: 3, p99: 3, max: 3.0004 }, metrics),
        '{"v":1,"kind":"interval","run":"r1","te',
      ].join('\n'),
    );
    const g = await graphite();
    const r = await runCli(['replay', '--settings', h.settings, '--state-dir', dir, '--to', `graphite://127.0.0.1:${g.port}`, '--from', '2026-11-21'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`canihaz: journal ${file}: skipped 1 torn last line and 1 unreadable line\n`);
    expect(r.stdout).toMatch(/^sent 29 points of 1 interval \(1 test, 1 run; 1 interval sent again with the figures late completions gave it, as the run did\) between 2026-11-21T00:00:00\.000Z and /);
    const ts = START / 1000;
    expect(g.points.slice(0, 11).map((p) => p.raw)).toContain(`canihaz.db-2.home.ok 2 ${ts}`);
    expect(stored(g.latest())).toEqual(
      [
        `canihaz.db-2.home.count 3 ${ts}`,
        ...['ok 3', 'failed 0', 'dropped 0', 'missed 0', 'aborted 0'].map((f) => `canihaz.db-2.home.${f} ${ts}`),
        ...['mean 2.5', 'p50 2', 'p90 3', 'p99 3', 'max 3'].map((f) => `canihaz.db-2.home.latency.${f} ${ts}`),
        ...['mean 5', 'p50 5', 'p90 6', 'p99 6', 'max 6.5'].map((f) => `canihaz.db-2.home.step.login.${f} ${ts}`),
        `canihaz.db-2.home.items 7 ${ts}`,
        `canihaz.db-2.home.days_left 12.25 ${ts}`,
      ].sort(),
    );
  });
});
