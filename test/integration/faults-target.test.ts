/**
 * Fault injection at the target (issue 6 §3), each through the real CLI with a short --lifetime, each
 * asserting that the books balance and that the copy ended in time (window + longest timeout + flush
 * deadline, or 500 ms after a stop). Targets are real local servers on 127.0.0.1; names that do not
 * resolve, or resolve slowly, are asked of a DNS server of ours on loopback (test/support/private-resolver.ts),
 * never of the machine's resolver.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { agentHome, CLI, cleanups, runCli, spawnCli, startTarget, waitFor, type CliResult, type TargetServer } from '../support/cli.js';
import { bookOf, expectBooksBalance, expectEndedWithin } from '../support/faults.js';
import { connectHangs, startHangingConnectTarget } from '../support/hanging-connect.js';
import { freePort, startUdpStatsd, type StatsdListener } from '../support/listeners.js';
import {
  expectPrivateResolver,
  privateResolverRuns,
  privateResolverSkipNote,
  runCliWithDns,
  spawnCliWithDns,
  startPrivateDns,
  type DnsAnswer,
  type PrivateDns,
} from '../support/private-resolver.js';
import { FLUSH_DEADLINE_MS } from '../../src/commands/run.js';

const cleanup = cleanups();

/** How long metrics may take to flush at the end of a window (FLUSH_DEADLINE_MS). */
const FLUSH_MS = 2_000;
/** Process start-up (module load, config, warm-up) before the window, on a busy 2-core machine. */
const STARTUP_MS = 3_000;
/** The promise after a stop (stop file or SIGTERM). */
const STOP_MS = 500;

async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}
async function target(handler?: Parameters<typeof startTarget>[0]): Promise<TargetServer> {
  const t = await startTarget(handler);
  cleanup(t.close);
  return t;
}

/** A listener whose connects hang, closed after the test. */
async function hangingConnectTarget(): Promise<{ port: number }> {
  const t = await startHangingConnectTarget();
  cleanup(t.close);
  return t;
}

/** A DNS server of ours that the CLI, run by runCliWithDns, uses as its only one. */
async function privateDns(answer: DnsAnswer): Promise<PrivateDns> {
  expectPrivateResolver();
  const dns = await startPrivateDns({ answer, forCli: true });
  cleanup(dns.close);
  return dns;
}

/** Runs one test line for `lifetime` seconds and returns the result, its book and the StatsD listener. */
async function runOne(line: (dest: string) => string, lifetime: number, killAfterMs = 60_000) {
  const sd = await statsd();
  const home = await agentHome();
  await home.writeConfig(line(`statsd://127.0.0.1:${sd.port}`) + '\n');
  const r = await runCli(['run', ...home.args, '--lifetime', String(lifetime)], { killAfterMs });
  return { r, sd };
}

/** Sums of the StatsD counters of one test, by the part after `canihaz.<test>.`. */
const counter = (sd: StatsdListener, test: string, what: string) => sd.sum(`canihaz.${test}.${what}`);

describe('a stop waits for connections that never open', () => {
  for (const how of ['stop file', 'SIGTERM'] as const) {
    it(`${how}: exits within 500 ms although every connect hangs (timeout=60s), pending executions counted aborted`, async () => {
      const { port } = await hangingConnectTarget();
      expect(await connectHangs(port, 300), 'precondition: a connect to a full accept queue hangs on loopback').toBe(true);
      const sd = await statsd();
      const home = await agentHome();
      await home.writeConfig(`hang|http|600|statsd://127.0.0.1:${sd.port}|url=http://127.0.0.1:${port}/|timeout=60s\n`);
      const cli = spawnCli(['run', ...home.args, '--lifetime', '30', '--log-level', 'info'], { killAfterMs: 90_000 });
      expect(await waitFor(() => cli.stderr.includes('msg="run started"'), 10_000)).toBe(true);
      // A second of ticks (10 at 600/min), each waiting for a connection.
      await new Promise((r) => setTimeout(r, 1_000));
      const stopAt = performance.now();
      if (how === 'stop file') await writeFile(home.stopFile, '');
      else cli.child.kill('SIGTERM');
      const r = await cli.done;
      expect(r.code).toBe(0);
      expectEndedWithin(r, STOP_MS, `${how} against hanging connects`, stopAt - cli.startedAt);
      const book = bookOf(r.stderr, 'hang');
      expectBooksBalance(book);
      expect(book.started).toBeGreaterThanOrEqual(5);
      expect(book).toMatchObject({ ok: 0, failed: 0, aborted: book.started });
      await sd.waitFor(() => counter(sd, 'hang', 'aborted') === book.aborted);
    });
  }
});

describe('target faults (each: books balance, ends on time)', () => {
  it('a target refusing connections: every execution fails as refused', async () => {
    const port = await freePort();
    const lifetime = 2;
    const { r, sd } = await runOne((d) => `refused|http|600|${d}|url=http://127.0.0.1:${port}/|timeout=2s`, lifetime);
    expect(r.code).toBe(0);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 2_000 + FLUSH_MS, 'refused');
    const book = bookOf(r.stderr, 'refused');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 20, started: 20, ok: 0, failed: 20 });
    await sd.waitFor(() => counter(sd, 'refused', 'failed.refused') === 20);
  });

  it('a target resetting mid-response: every execution fails as reset', async () => {
    // Headers and half a body, then a TCP RST.
    const server: Server = createServer((socket: Socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf a body', () => socket.resetAndDestroy());
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const lifetime = 2;
    const { r, sd } = await runOne((d) => `reset|http|600|${d}|url=http://127.0.0.1:${port}/|timeout=2s`, lifetime);
    expect(r.code).toBe(0);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 2_000 + FLUSH_MS, 'reset');
    const book = bookOf(r.stderr, 'reset');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 20, started: 20, ok: 0, failed: 20 });
    await sd.waitFor(() => counter(sd, 'reset', 'failed.reset') === 20);
  });

  it('a target hanging past `timeout`: timeouts, and the run still ends by window + timeout + flush', async () => {
    const hanging = await target(() => {});
    const lifetime = 2;
    const timeoutMs = 1_500;
    const { r, sd } = await runOne((d) => `hang|http|600|${d}|url=${hanging.url}/|timeout=1500ms`, lifetime);
    expect(r.code).toBe(0);
    // Measured from the window the run reports, so start-up does not count against the promise.
    const windowEnd = Date.parse(/window_end=(\S+)/.exec(r.stderr)?.[1] ?? '');
    if (Number.isFinite(windowEnd)) expect(Date.now() - windowEnd).toBeLessThanOrEqual(timeoutMs + FLUSH_MS + 200);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + timeoutMs + FLUSH_MS, 'hanging target');
    const book = bookOf(r.stderr, 'hang');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 20, started: 20, ok: 0, failed: 20 });
    await sd.waitFor(() => counter(sd, 'hang', 'failed.timeout') === 20);
    for (const l of sd.linesOf('canihaz.hang.latency')) expect(l.value).toBeGreaterThanOrEqual(timeoutMs - 10);
  });

  describe('a slow target (3 s answers at 600/min)', () => {
    /** A target answering after 3 s that records the most requests it held at once. */
    async function slowTarget() {
      let open = 0;
      let peak = 0;
      const t = await target((_req, res) => {
        open++;
        peak = Math.max(peak, open);
        setTimeout(() => {
          open--;
          res.end('slow');
        }, 3_000);
      });
      return { t, peak: () => peak };
    }

    it('with concurrency large enough: every tick started, all 20 held at once, none dropped', async () => {
      const { t, peak } = await slowTarget();
      const lifetime = 2;
      const { r, sd } = await runOne((d) => `slow|http|600|${d}|url=${t.url}/|timeout=5s|concurrency=40`, lifetime);
      expect(r.code).toBe(0);
      expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 5_000 + FLUSH_MS, 'slow target');
      const book = bookOf(r.stderr, 'slow');
      expectBooksBalance(book);
      expect(book).toMatchObject({ requested: 20, started: 20, ok: 20, failed: 0, dropped: 0, missed: 0 });
      // Open model: the 20 ticks (the last 1.9 s in, the first answer at 3 s) were all at the target at
      // once; none waited for another.
      expect(peak()).toBe(20);
      expect(t.count('/')).toBe(20);
      await sd.waitFor(() => counter(sd, 'slow', 'ok') === 20);
    });

    it('with a small concurrency: the cap holds and the rest are dropped and counted', async () => {
      const { t, peak } = await slowTarget();
      const lifetime = 2;
      const { r, sd } = await runOne((d) => `capped|http|600|${d}|url=${t.url}/|timeout=5s|concurrency=5`, lifetime);
      expect(r.code).toBe(0);
      expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 5_000 + FLUSH_MS, 'slow target, capped');
      const book = bookOf(r.stderr, 'capped');
      expectBooksBalance(book);
      // The first 5 ticks hold every slot until after the window's last tick (3 s answers, 2 s window).
      expect(book).toMatchObject({ requested: 20, started: 5, ok: 5, dropped: 15, missed: 0 });
      expect(peak()).toBe(5);
      await sd.waitFor(() => counter(sd, 'capped', 'dropped') === 15);
    });
  });

  it.skipIf(!privateResolverRuns)(`a name that does not resolve: every execution fails as dns${privateResolverSkipNote}`, async () => {
    const dns = await privateDns('nxdomain');
    const lifetime = 2;
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`nxdomain|http|600|statsd://127.0.0.1:${sd.port}|url=http://canihaz-fault-test.invalid/|timeout=2s\n`);
    const r = await runCliWithDns(dns, ['run', ...home.args, '--lifetime', String(lifetime)], { killAfterMs: 60_000 });
    expect(r.code).toBe(0);
    // Asked of our server (so of no other): a failure is not remembered, each new connection asks again.
    expect(dns.queries.filter((q) => q === 'canihaz-fault-test.invalid').length).toBeGreaterThanOrEqual(1);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 2_000 + FLUSH_MS, 'unresolvable name');
    const book = bookOf(r.stderr, 'nxdomain');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 20, started: 20, ok: 0, failed: 20 });
    await sd.waitFor(() => counter(sd, 'nxdomain', 'failed.dns') === 20);
  });
});

/** Runs the CLI under `ulimit -n limit` (as cron often does), sampling the most descriptors it held. */
async function runUnderFdLimit(limit: number, args: string[]): Promise<{ r: CliResult; peakFds: number }> {
  const quoted = [process.execPath, CLI, ...args].map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
  const startedAt = performance.now();
  const child = spawn('bash', ['-c', `ulimit -n ${limit} && exec ${quoted}`], {
    env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let peakFds = 0;
  const sampler = setInterval(() => {
    readdir(`/proc/${child.pid}/fd`).then((fds) => (peakFds = Math.max(peakFds, fds.length)), () => {});
  }, 50);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  clearInterval(sampler);
  return { r: { code, signal, stdout, stderr, durationMs: performance.now() - startedAt }, peakFds };
}

describe('one connection per test exhausts file descriptors', () => {
  it('1,200 tests to one origin under `ulimit -n 1024`: every execution ok, the StatsD socket works, no EMFILE, no MaxListenersExceededWarning', async () => {
    const server = await target();
    const sd = await statsd();
    const home = await agentHome();
    const tests = 1_200;
    const lines = Array.from({ length: tests }, (_, i) => `fd${i}|http|60|statsd://127.0.0.1:${sd.port}|url=${server.url}/fd${i}`);
    await home.writeConfig(lines.join('\n') + '\n');
    const lifetime = 3;
    const { r, peakFds } = await runUnderFdLimit(1024, ['run', ...home.args, '--lifetime', String(lifetime)]);
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    expect(r.stderr).not.toMatch(/EMFILE|ENFILE|MaxListenersExceededWarning|statsd send failed/);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 10_000 + FLUSH_MS, '1,200 tests under ulimit -n 1024');
    let ok = 0;
    for (let i = 0; i < tests; i++) {
      const book = bookOf(r.stderr, `fd${i}`);
      expectBooksBalance(book);
      expect(book.failed, `fd${i}`).toBe(0);
      ok += book.ok;
    }
    expect(ok).toBe(tests * lifetime);
    // UDP on loopback may drop under a burst into a small receive buffer, so the StatsD total is a
    // floor, not exact; what must not happen is the socket never being created (no counts at all).
    await sd.waitFor(() => sd.packets > 0);
    expect(peakFds, 'descriptors held at most').toBeLessThan(1024);
    const counted = sd.lines.filter((l) => /^canihaz\.fd\d+\.ok$/.test(l.name)).reduce((sum, l) => sum + l.value, 0);
    console.log(`1,200 tests under ulimit -n 1024: peak fds ${peakFds}, executions ok ${ok}, ok counted by StatsD ${counted}`);
  });

  it('a connection budget reached under a small fd limit is said once, and the copy stays under the limit', async () => {
    // Connections the target holds at once (a request the agent gave up on closes its connection).
    const sockets = new Set<Socket>();
    let peak = 0;
    const slow = await target((req, res) => {
      if (!sockets.has(req.socket)) {
        sockets.add(req.socket);
        req.socket.once('close', () => sockets.delete(req.socket));
        peak = Math.max(peak, sockets.size);
      }
      setTimeout(() => res.end('slow'), 1_000);
    });
    const home = await agentHome();
    // 100 executions a second of 1 s each want 100 connections; `ulimit -n 100` allows 23.
    await home.writeConfig(`crowd|http|6000|none|url=${slow.url}/|concurrency=200|timeout=2s\n`);
    const lifetime = 2;
    const { r, peakFds } = await runUnderFdLimit(100, ['run', ...home.args, '--lifetime', String(lifetime)]);
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    expectEndedWithin(r, STARTUP_MS + lifetime * 1_000 + 2_000 + FLUSH_MS, 'budget reached');
    const alarms = r.stderr.split('\n').filter((l) => l.includes('connection budget reached'));
    expect(alarms, r.stderr).toHaveLength(1);
    expect(alarms[0]).toContain('fd_soft_limit=100 connections=23');
    expect(r.stderr).not.toMatch(/EMFILE|ENFILE/);
    // The target may see a connection the agent just closed for a moment longer than the agent does
    // (its close and the next connect can arrive in one event-loop turn): hence the small slack.
    expect(peak).toBeLessThanOrEqual(23 + 2);
    console.log(`budget reached: target saw at most ${peak} connections, the copy held at most ${peakFds} fds`);
    expect(peakFds).toBeLessThan(100);
    const book = bookOf(r.stderr, 'crowd');
    expectBooksBalance(book);
    expect(book.ok).toBeGreaterThan(0);
  });
});

describe('A target host name on a slow resolver keeps a stopped copy alive (a pending getaddrinfo holds the exit)', () => {
  /** A test line whose target's name is asked of a DNS server that never answers; StatsD by address. */
  async function slowResolverHome(timeout: string) {
    const dns = await privateDns('silent');
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`slowdns|http|600|statsd://127.0.0.1:${sd.port}|url=http://slow.example.test/|timeout=${timeout}\n`);
    return { dns, sd, home };
  }

  it.skipIf(!privateResolverRuns)(`SIGTERM 1 s into the run: exits within 500 ms, the books balance${privateResolverSkipNote}`, async () => {
    const { dns, sd, home } = await slowResolverHome('60s');
    const cli = spawnCliWithDns(dns, ['run', ...home.args, '--lifetime', '30', '--log-level', 'info'], { killAfterMs: 60_000 });
    expect(await waitFor(() => cli.stderr.includes('msg="run started"'), 10_000), cli.stderr).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    const stopAt = performance.now();
    cli.child.kill('SIGTERM');
    const r = await cli.done;
    expect(r.code).toBe(0);
    console.log(`slow target resolver: exited ${Math.round(r.durationMs - (stopAt - cli.startedAt))} ms after SIGTERM`);
    expectEndedWithin(r, STOP_MS, 'SIGTERM with a target lookup pending on a slow resolver', stopAt - cli.startedAt);
    const book = bookOf(r.stderr, 'slowdns');
    expectBooksBalance(book);
    // Every execution was waiting for the address: none got further.
    expect(book.started).toBeGreaterThanOrEqual(5);
    expect(book).toMatchObject({ ok: 0, failed: 0, aborted: book.started });
    expect(dns.queries).toContain('slow.example.test');
    await sd.waitFor(() => counter(sd, 'slowdns', 'aborted') === book.aborted);
  });

  it.skipIf(!privateResolverRuns)(`left to its window's end: ends within window + timeout + flush deadline, the books balance${privateResolverSkipNote}`, async () => {
    const timeoutMs = 1_000;
    const { dns, home } = await slowResolverHome(`${timeoutMs}ms`);
    const lifetime = 2;
    const spawnWall = Date.now();
    const r = await runCliWithDns(dns, ['run', ...home.args, '--lifetime', String(lifetime), '--log-level', 'info'], { killAfterMs: 60_000 });
    expect(r.code).toBe(0);
    // Measured from the window the run reports, so start-up does not count against the promise.
    const windowEnd = Date.parse(/msg="run started" .*window_end=(\S+)/.exec(r.stderr)?.[1] ?? '');
    expect(Number.isFinite(windowEnd), r.stderr).toBe(true);
    console.log(`slow target resolver: ended ${Math.round(spawnWall + r.durationMs - windowEnd)} ms after the window's end (timeout ${timeoutMs} ms)`);
    expectEndedWithin(r, timeoutMs + FLUSH_DEADLINE_MS + 400, 'run with a target on a slow resolver', windowEnd - spawnWall);
    const book = bookOf(r.stderr, 'slowdns');
    expectBooksBalance(book);
    // The lookup outlasts every execution's timeout: each one times out.
    expect(book).toMatchObject({ requested: 20, started: 20, ok: 0, failed: 20 });
    expect(dns.queries).toContain('slow.example.test');
  });
});
