/**
 * Fault injection for the metric servers (issue 6 §3), each through the real CLI against a real local
 * target: StatsD down or unresolvable, Graphite refusing, hanging, or restarting. Every case asserts
 * the books balance and the watchdog: the copy ends by itself within window + longest timeout +
 * flush deadline, or within 500 ms of a stop. Metric-server names that must fail or hang are asked of
 * a DNS server of ours on loopback (test/support/private-resolver.ts), never of the machine's resolver.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { FLUSH_DEADLINE_MS } from '../../src/commands/run.js';
import { silentLogger } from '../../src/log.js';
import type { MetricSink } from '../../src/metrics/sink.js';
import { agentHome, cleanups, spawnCli, startTarget, waitFor, type AgentHome, type CliProcess, type TargetServer } from '../support/cli.js';
import { bookOf, expectBooksBalance, expectEndedWithin, type Book } from '../support/faults.js';
import { freePort, startGraphite, startStuckServer, startUdpStatsd, type GraphiteListener, type StatsdListener, type StuckServer } from '../support/listeners.js';
import {
  expectPrivateResolver,
  privateResolverRuns,
  privateResolverSkipNote,
  spawnCliWithDns,
  startPrivateDns,
  type PrivateDns,
} from '../support/private-resolver.js';

const cleanup = cleanups();

/** Exit after the flush: closing sockets, writing the summary, process teardown. */
const EXIT_SLACK_MS = 400;
/** "Stop within 500 ms". */
const STOP_MS = 500;

async function target(handler?: Parameters<typeof startTarget>[0]): Promise<TargetServer> {
  const t = await startTarget(handler);
  cleanup(t.close);
  return t;
}
async function stuck(): Promise<StuckServer> {
  const s = await startStuckServer();
  cleanup(s.close);
  return s;
}
async function graphite(port?: number): Promise<GraphiteListener> {
  const g = await startGraphite(port === undefined ? {} : { port });
  cleanup(g.close);
  return g;
}
async function udpStatsd(): Promise<StatsdListener> {
  const s = await startUdpStatsd();
  cleanup(s.close);
  return s;
}

async function home(settings = ''): Promise<AgentHome> {
  const h = await agentHome();
  await writeFile(h.settings, `# test settings\n${settings}`);
  cleanup(() => rm(h.dir, { recursive: true, force: true }));
  return h;
}

/**
 * Spawns `canihaz run --lifetime N --log-level info`, with a wall-clock stamp to place its window;
 * with `dns`, the copy's only DNS server is that one (test/support/private-resolver.ts).
 */
function run(h: AgentHome, lifetime: number, options: { killAfterMs?: number; env?: NodeJS.ProcessEnv; dns?: PrivateDns } = {}): CliProcess & { spawnWall: number } {
  const spawnWall = Date.now();
  const args = ['run', ...h.args, '--lifetime', String(lifetime), '--log-level', 'info'];
  const spawnOptions = { killAfterMs: options.killAfterMs ?? (lifetime + 15) * 1_000, ...(options.env ? { env: options.env } : {}) };
  const cli = options.dns ? spawnCliWithDns(options.dns, args, spawnOptions) : spawnCli(args, spawnOptions);
  return Object.assign(cli, { spawnWall });
}

/** When the run's window ends, in ms after its spawn (from its own `run started` line). */
function windowEndAfterSpawn(stderr: string, spawnWall: number): number {
  const m = /msg="run started" .*window_end=(\S+)/.exec(stderr);
  expect(m, `no "run started" line in:\n${stderr}`).not.toBeNull();
  return Date.parse(m![1]!) - spawnWall;
}

/** The watchdog for a run that is not stopped: ended by itself within `longestTimeoutMs` + the flush deadline after its window. */
function expectEndedOnTime(result: Awaited<CliProcess['done']>, spawnWall: number, longestTimeoutMs: number, what: string): void {
  expectEndedWithin(result, longestTimeoutMs + FLUSH_DEADLINE_MS + EXIT_SLACK_MS, what, windowEndAfterSpawn(result.stderr, spawnWall));
}

/** A child's CPU time (user + system, s), sampled from /proc every 100 ms with the wall-clock time of each sample. */
interface CpuSampler {
  /** The last sample, s. */
  (): number;
  /** CPU seconds per wall second between the first sample at or after `fromWall` and the last sample. */
  rateSince(fromWall: number): { rate: number; cpuS: number; wallS: number };
}

function cpuSampler(pid: number): CpuSampler {
  const hz = 100; // USER_HZ on Linux
  const samples: { wall: number; cpu: number }[] = [];
  const read = () => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      samples.push({ wall: Date.now(), cpu: (Number(fields[11]) + Number(fields[12])) / hz });
    } catch {
      // exited
    }
  };
  read();
  const timer = setInterval(read, 100);
  cleanup(async () => clearInterval(timer));
  const last = () => samples[samples.length - 1] ?? { wall: Date.now(), cpu: 0 };
  return Object.assign(() => last().cpu, {
    rateSince(fromWall: number) {
      const from = samples.find((x) => x.wall >= fromWall) ?? last();
      const cpuS = last().cpu - from.cpu;
      const wallS = (last().wall - from.wall) / 1000;
      return { rate: wallS > 0 ? cpuS / wallS : 0, cpuS, wallS };
    },
  });
}

/** Log lines of `msg` in a run's stderr, as logfmt fields. */
function logged(stderr: string, msg: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes(`msg=${JSON.stringify(msg)}`) && !line.includes(`msg=${msg} `)) continue;
    const fields: Record<string, string> = {};
    for (const m of line.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) fields[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    out.push(fields);
  }
  return out;
}

/** `n` test lines named t0..t(n-1). */
function tests(n: number, frequency: number, destination: string, url: string): string {
  return Array.from({ length: n }, (_, i) => `t${i}|http|${frequency}|${destination}|url=${url}/t${i}\n`).join('');
}

/** The books of every test t0..t(n-1), each balanced. */
function balancedBooks(stderr: string, n: number): Book[] {
  const books = Array.from({ length: n }, (_, i) => bookOf(stderr, `t${i}`));
  for (const b of books) expectBooksBalance(b);
  return books;
}

/** A Graphite path prefix of about 2 KB: each line ~2 KB, so a few hundred tests make megabytes. */
const LONG_PREFIX = Array.from({ length: 64 }, (_, i) => `segment${String(i).padStart(2, '0')}_${'x'.repeat(20)}`).join('.');

describe('a Graphite that accepts and never reads', () => {
  it('A stuck Graphite freezes a copy forever at full CPU: with megabytes unsent the run still ends by itself, on time, without spinning', async () => {
    const server = await stuck();
    const t = await target();
    // 350 tests x 3 executions, 11 lines of ~2 KB each per test: ~8 MB, twice what loopback's kernel buffers hold.
    const h = await home(`graphite_prefix = ${LONG_PREFIX}\n`);
    await h.writeConfig(tests(350, 60, `graphite://127.0.0.1:${server.port}`, t.url));
    const cli = run(h, 3);
    const cpu = cpuSampler(cli.child.pid!);
    const r = await cli.done;
    const cpuS = cpu();
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with a stuck Graphite');
    expect(r.code).toBe(0);
    balancedBooks(r.stderr, 350);
    // The stop phase waits on a socket: a spin would burn CPU through it (the run itself needs well under half its wall time).
    expect(cpuS, `CPU ${cpuS} s in ${r.durationMs} ms`).toBeLessThan((r.durationMs / 1000) * 0.6);
    const stopPhase = cpu.rateSince(cli.spawnWall + windowEndAfterSpawn(r.stderr, cli.spawnWall) + 300);
    if (stopPhase.wallS >= 0.5) expect(stopPhase.rate, `CPU in the stop phase: ${JSON.stringify(stopPhase)}`).toBeLessThan(0.2);
    expect(Number(logged(r.stderr, 'graphite lines not sent before the stop deadline')[0]?.lines)).toBeGreaterThan(0);
    expect(server.connections).toBe(1);
  });

  it('A stuck Graphite freezes a copy forever at full CPU: SIGTERM and the stop file end a stuck run within 500 ms', async () => {
    const server = await stuck();
    const t = await target();
    const a = await home(`graphite_prefix = ${LONG_PREFIX}\n`);
    const b = await home(`graphite_prefix = ${LONG_PREFIX}\n`);
    const config = tests(350, 12, `graphite://127.0.0.1:${server.port}`, t.url);
    await a.writeConfig(config);
    await b.writeConfig(config);
    const byTerm = run(a, 30);
    const byFile = run(b, 30);
    const started = await waitFor(() => byTerm.stderr.includes('msg="run started"') && byFile.stderr.includes('msg="run started"'), 15_000);
    expect(started, `runs did not start:\n${byTerm.stderr}\n${byFile.stderr}`).toBe(true);
    // Every test executes once per 5 s: at the first 10 s boundary at least 5.5 s in, each run hands
    // ~8 MB (350 tests x 11 lines of ~2 KB) to a server that reads nothing.
    const boundary = Math.ceil((Date.now() + 5_500) / 10_000) * 10_000;
    await new Promise((resolve) => setTimeout(resolve, boundary + 1_500 - Date.now()));
    const cpuTerm = cpuSampler(byTerm.child.pid!);
    const stopAt = performance.now();
    byTerm.child.kill('SIGTERM');
    await writeFile(b.stopFile, '');
    const [rt, rf] = await Promise.all([byTerm.done, byFile.done]);
    expectEndedWithin(rt, STOP_MS, 'SIGTERM to a run with a stuck Graphite', stopAt - byTerm.startedAt);
    expectEndedWithin(rf, STOP_MS, 'stop file for a run with a stuck Graphite', stopAt - byFile.startedAt);
    expect(cpuTerm()).toBeLessThan((rt.durationMs / 1000) * 0.6);
    for (const r of [rt, rf]) {
      expect(r.code).toBe(0);
      balancedBooks(r.stderr, 350);
      expect(Number(logged(r.stderr, 'graphite lines not sent before the stop deadline')[0]?.lines)).toBeGreaterThan(0);
    }
  });

  it('Metrics lost without a word: at small volume, the lines the server never read are counted at stop', async () => {
    const server = await stuck();
    const t = await target();
    const h = await home();
    await h.writeConfig(`home|http|60|graphite://127.0.0.1:${server.port}|url=${t.url}/\n`);
    const cli = run(h, 2);
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with a small load to a stuck Graphite');
    expectBooksBalance(bookOf(r.stderr, 'home'));
    const said = logged(r.stderr, 'graphite lines may not have been delivered: the server did not confirm the close');
    expect(said.length).toBe(1);
    // Whole intervals of 25 lines (count, 5 outcomes, 5 latency figures, 14 le_ counters; one or two, and any re-sent after a late completion).
    expect(Number(said[0]!.lines)).toBeGreaterThanOrEqual(25);
    expect(Number(said[0]!.lines) % 25).toBe(0);
  });
});

/**
 * StatsD lines of `executions` ok executions: 3 each (ok, latency, lag), and per 200-ms flush that held
 * some, the nonzero le_ counters — at least le_10000 and le_inf, at most all 14 — whose number depends
 * on how the executions fell into flushes.
 */
function expectExecutionLinesAndCounters(lines: number, executions: number): void {
  expect(lines - 3 * executions, `${lines} lines`).toBeGreaterThanOrEqual(2);
  expect(lines - 3 * executions, `${lines} lines`).toBeLessThanOrEqual(14 * executions);
}

describe('metric servers down, unreachable, unresolvable', () => {
  it('StatsD port closed (UDP and TCP): the run ends on time, the books balance, the TCP lines are counted as dropped', async () => {
    const t = await target();
    const udpPort = await freePort();
    const tcpPort = await freePort();
    const h = await home();
    await h.writeConfig(`udp|http|600|statsd://127.0.0.1:${udpPort}|url=${t.url}/u\ntcp|http|600|statsd+tcp://127.0.0.1:${tcpPort}|url=${t.url}/t\n`);
    const cli = run(h, 2);
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with StatsD down');
    for (const name of ['udp', 'tcp']) expectBooksBalance(bookOf(r.stderr, name));
    expect(bookOf(r.stderr, 'udp').ok).toBe(20);
    expect(logged(r.stderr, 'statsd send failed').map((f) => f.destination)).toEqual([`statsd+tcp://127.0.0.1:${tcpPort}`]);
    // 20 executions x 3 lines, and the le_ counters of each 200-ms flush, none sent.
    const dropped = logged(r.stderr, 'statsd lines dropped during the run');
    expect(dropped).toMatchObject([{ destination: `statsd+tcp://127.0.0.1:${tcpPort}` }]);
    expectExecutionLinesAndCounters(Number(dropped[0]!.total_dropped), 20);
  });

  it.skipIf(!privateResolverRuns)(`a StatsD host name that does not resolve: the run ends on time, the books balance, the lines are counted as dropped${privateResolverSkipNote}`, async () => {
    expectPrivateResolver();
    // The name is asked of a DNS server of ours on loopback (NXDOMAIN), never of the machine's resolver.
    const dns = await startPrivateDns({ answer: 'nxdomain', forCli: true });
    cleanup(dns.close);
    const t = await target();
    const h = await home();
    await h.writeConfig(`home|http|600|statsd://nonexistent.invalid:8125|url=${t.url}/\n`);
    const cli = run(h, 2, { dns });
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with an unresolvable StatsD');
    expectBooksBalance(bookOf(r.stderr, 'home'));
    expect(bookOf(r.stderr, 'home').ok).toBe(20);
    // NXDOMAIN is said at once.
    expect(logged(r.stderr, 'statsd send failed')[0]?.error).toMatch(/^cannot resolve nonexistent\.invalid: /);
    const dropped = logged(r.stderr, 'statsd lines dropped during the run');
    expect(dropped).toMatchObject([{ resolved: 'false' }]);
    expectExecutionLinesAndCounters(Number(dropped[0]!.total_dropped), 20);
    expect(dns.queries).toContain('nonexistent.invalid');
  });

  it('Graphite refusing: the run ends on time, the books balance, the unsent lines are counted', async () => {
    const t = await target();
    const port = await freePort();
    const h = await home();
    await h.writeConfig(`home|http|600|graphite://127.0.0.1:${port}|url=${t.url}/\n`);
    const cli = run(h, 2);
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with Graphite refusing');
    expectBooksBalance(bookOf(r.stderr, 'home'));
    expect(logged(r.stderr, 'graphite connection failed')[0]).toMatchObject({ code: 'ECONNREFUSED' });
    expect(Number(logged(r.stderr, 'graphite lines not sent before the stop deadline')[0]?.lines)).toBeGreaterThanOrEqual(11);
  });

  it('Graphite dying mid-run and coming back on the same port: the backlog is delivered after the reconnect', async () => {
    const t = await target();
    let g = await graphite();
    const port = g.port;
    const first = g;
    const h = await home('graphite_prefix = fault\n');
    await h.writeConfig(`home|http|120|graphite://127.0.0.1:${port}|url=${t.url}/\n`);
    const cli = run(h, 15);
    expect(await waitFor(() => cli.stderr.includes('msg="run started"'), 15_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await first.close();
    // Down across a 10 s boundary at least 2 s away (so its interval holds executions): that
    // interval's lines wait in the queue. Back 1 s after it, at most 13.5 s into the 15 s window.
    const boundary = Math.ceil((Date.now() + 2_000) / 10_000) * 10_000;
    await new Promise((resolve) => setTimeout(resolve, boundary + 1_000 - Date.now()));
    g = await graphite(port);
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with Graphite restarting');
    const book = bookOf(r.stderr, 'home');
    expectBooksBalance(book);
    // The interval that ended while the server was down arrived on the new connection.
    const downInterval = boundary / 1000 - 10;
    expect(g.timestampsOf('fault.home.count')).toContain(downInterval);
    // Every interval is in one listener or the other: the counts add up to the summary.
    const stored = new Map<number, number>();
    for (const l of [first, g]) for (const p of l.latest()) if (p.path === 'fault.home.count') stored.set(p.timestamp, p.value);
    expect([...stored.values()].reduce((a, v) => a + v, 0)).toBe(book.ok + book.failed);
    expect(logged(r.stderr, 'graphite connection failed').length).toBeGreaterThanOrEqual(1);
  });
});

describe('StatsD over TCP that never reads', () => {
  it('Metrics lost without a word: a statsd+tcp server that never reads gets a bounded buffer, and every line beyond it is counted and logged', async () => {
    const server = await stuck();
    const t = await target();
    // ~4 KB names: 1,200 executions x 3 lines are ~14 MB, beyond the kernel buffers and the 1 MiB bound.
    const h = await home(`statsd_prefix = ${LONG_PREFIX}.${LONG_PREFIX}\n`);
    await h.writeConfig(tests(2, 12_000, `statsd+tcp://127.0.0.1:${server.port}`, t.url));
    const cli = run(h, 3);
    const r = await cli.done;
    expectEndedOnTime(r, cli.spawnWall, 0, 'run with a stuck StatsD');
    const books = balancedBooks(r.stderr, 2);
    const lines = books.reduce((a, b) => a + 3 * (b.ok + b.failed) + b.failed + b.dropped + (b.missed > 0 ? 1 : 0), 0);
    const midRun = logged(r.stderr, 'statsd lines dropped');
    expect(midRun[0]).toMatchObject({ reason: 'server not reading' });
    const final = logged(r.stderr, 'statsd lines dropped during the run');
    expect(final.length).toBe(1);
    expect(Number(final[0]!.total_dropped)).toBeGreaterThan(0);
    expect(Number(final[0]!.total_dropped)).toBeLessThanOrEqual(lines);
    // What the kernel took but the server never read is said too.
    expect(Number(logged(r.stderr, 'statsd lines may not have been delivered: the server did not confirm the close')[0]?.lines)).toBeGreaterThan(0);
    expect(r.stderr).not.toContain('hot-shots');
  });
});

describe('the books in the metrics', () => {
  it('what StatsD and Graphite receive agrees with the summary line: ok, failed, aborted, dropped', async () => {
    const sd = await udpStatsd();
    const g = await graphite();
    const t = await target((req, res) => {
      if (req.url?.startsWith('/slow')) setTimeout(() => res.end('late'), 1_500);
      else if (req.url?.startsWith('/bad')) {
        res.statusCode = 503;
        res.end('no');
      } else res.end('ok');
    });
    const h = await home('statsd_prefix = books\ngraphite_prefix = books\n');
    const dest = `statsd://127.0.0.1:${sd.port},graphite://127.0.0.1:${g.port}`;
    await h.writeConfig(`fast|http|600|${dest}|url=${t.url}/fast\nbad|http|300|${dest}|url=${t.url}/bad\nslow|http|600|${dest}|url=${t.url}/slow|concurrency=2\n`);
    const cli = run(h, 10);
    expect(await waitFor(() => cli.stderr.includes('msg="run started"'), 15_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const stopAt = performance.now();
    cli.child.kill('SIGTERM');
    const r = await cli.done;
    expectEndedWithin(r, STOP_MS, 'SIGTERM', stopAt - cli.startedAt);
    for (const name of ['fast', 'bad', 'slow']) {
      const book = bookOf(r.stderr, name);
      expectBooksBalance(book);
      const c = (what: string) => sd.sum(`books.${name}.${what}`);
      await sd.waitFor(() => c('ok') + c('failed') + c('aborted') === book.started, { message: `statsd ${name}` });
      expect({ ok: c('ok'), failed: c('failed'), aborted: c('aborted'), dropped: c('dropped'), missed: c('missed') }).toEqual({
        ok: book.ok,
        failed: book.failed,
        aborted: book.aborted,
        dropped: book.dropped,
        missed: book.missed,
      });
      await g.waitFor(() => g.sum(`books.${name}.count`) + g.sum(`books.${name}.aborted`) === book.started, { message: `graphite ${name}` });
      const p = (what: string) => g.sum(`books.${name}.${what}`);
      expect({ ok: p('ok'), failed: p('failed'), aborted: p('aborted'), dropped: p('dropped'), missed: p('missed') }).toEqual({
        ok: book.ok,
        failed: book.failed,
        aborted: book.aborted,
        dropped: book.dropped,
        missed: book.missed,
      });
    }
    const slow = bookOf(r.stderr, 'slow');
    expect(slow.dropped).toBeGreaterThan(0);
    expect(slow.aborted).toBeGreaterThan(0);
    expect(bookOf(r.stderr, 'bad').failed).toBeGreaterThan(0);
  });
});

describe('A StatsD host name on a slow resolver keeps the process alive seconds after its slot is released', () => {
  it.skipIf(!privateResolverRuns)(
    `exits within 500 ms of a stop and on time at the window's end${privateResolverSkipNote}`,
    async () => {
      expectPrivateResolver();
      // The copy's only DNS server reads queries and never answers.
      const dns = await startPrivateDns({ answer: 'silent', forCli: true });
      cleanup(dns.close);
      const t = await target();
      const h = await home();
      await h.writeConfig(`home|http|600|statsd://statsd.slow.example:8125,graphite://graphite.slow.example:2003|url=${t.url}/\n`);

      // 1. Stopped mid-run: out within 500 ms, although lookups are still pending.
      const stopped = run(h, 10, { dns });
      expect(await waitFor(() => stopped.stderr.includes('msg="run started"'), 15_000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const stopAt = performance.now();
      stopped.child.kill('SIGTERM');
      const rs = await stopped.done;
      expectEndedWithin(rs, STOP_MS, 'SIGTERM with lookups pending on a slow resolver', stopAt - stopped.startedAt);
      expectBooksBalance(bookOf(rs.stderr, 'home'));

      // 2. Left to end: on time.
      const ended = run(h, 2, { dns });
      const re = await ended.done;
      expectEndedOnTime(re, ended.spawnWall, 0, 'run with a slow resolver');
      expectBooksBalance(bookOf(re.stderr, 'home'));
      // The resolver was really asked (and never answered).
      expect(dns.queries).toEqual(expect.arrayContaining(['statsd.slow.example', 'graphite.slow.example']));
    },
    60_000,
  );
});

/** The soft fd limit of this process, when it is small enough to use up in a test. */
const FD_LIMIT = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN);
const FD_SKIP = Number.isFinite(FD_LIMIT) && FD_LIMIT <= 100_000 ? undefined : `the soft fd limit (${FD_LIMIT}) is too large to use up in a test`;

describe('One connection per test exhausts file descriptors: a metric socket that hits EMFILE says so once, loudly', () => {
  for (const kind of ['statsd', 'graphite'] as const) {
    it.skipIf(FD_SKIP !== undefined)(`${kind}: the fd-limit alarm is raised once${FD_SKIP ? ` (skipped: ${FD_SKIP})` : ''}`, async () => {
      // A fresh limits module (its alarm is once per process) shared with a fresh sink module.
      vi.resetModules();
      const limits = await import('../../src/limits.js');
      const heard: { message: string; fields: Record<string, string | number> }[] = [];
      limits.onLimitHit((message, fields) => heard.push({ message, fields }));
      let sink: MetricSink;
      if (kind === 'statsd') {
        const { createStatsdSink } = await import('../../src/metrics/statsd.js');
        const l = await udpStatsd();
        sink = createStatsdSink({ destination: { kind: 'statsd', protocol: 'udp', host: '127.0.0.1', port: l.port }, prefix: 'fd', logger: silentLogger });
      } else {
        const { createGraphiteSink } = await import('../../src/metrics/graphite.js');
        const g = await graphite();
        sink = createGraphiteSink({ destination: { kind: 'graphite', host: '127.0.0.1', port: g.port }, prefix: 'fd', logger: silentLogger, clock: systemClock });
      }
      cleanup(() => sink.stop(systemClock.now() + 500));
      // Use up every file descriptor (bounded by the soft limit), briefly: the sink's socket cannot be made.
      const held: number[] = [];
      try {
        for (let i = 0; i <= FD_LIMIT; i++) held.push(openSync('/dev/null', 'r'));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EMFILE');
      }
      try {
        await sink.start();
        await waitFor(() => heard.length > 0, 3_000);
      } finally {
        for (const fd of held) closeSync(fd);
      }
      expect(heard).toEqual([{ message: expect.stringContaining('(EMFILE)'), fields: expect.objectContaining({ limit: 'EMFILE', where: `${kind} socket` }) }]);
      limits.onLimitHit(undefined);
    });
  }
});
