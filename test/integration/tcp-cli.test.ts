import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli } from '../support/cli.js';
import { bookOf, expectBooksBalance } from '../support/faults.js';
import { freePort, startUdpStatsd, type StatsdListener } from '../support/listeners.js';
import {
  expectPrivateResolver,
  MUST_RUN_PRIVATE_RESOLVER,
  privateResolverRuns,
  privateResolverSkipNote,
  runCliWithDns,
  startPrivateDns,
} from '../support/private-resolver.js';

const cleanup = cleanups();

/** A real TCP server on 127.0.0.1, port 0, doing `onConnection` with each connection; counts them. */
async function tcpServer(onConnection: (socket: Socket) => void): Promise<{ port: number; accepted: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

describe('canihaz run with tcp tests (real CLI, real servers, real StatsD)', () => {
  it('600/min for 5 s: 50 ok against an echo server, 50 of each failure reason, books balanced', async () => {
    const echo = await tcpServer((socket) => socket.pipe(socket));
    const wrong = await tcpServer((socket) => socket.once('data', () => socket.end('-ERR unknown command\r\n')));
    const silent = await tcpServer(() => {});
    const rst = await tcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const closedPort = await freePort();
    const sd = await statsd();
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port}`;
    await home.writeConfig(
      [
        String.raw`echo|tcp|600|${dest}|target=127.0.0.1:${echo.port}|send=PING\r\n|expect=PING\r\n`,
        `connect|tcp|600|${dest}|target=127.0.0.1:${echo.port}`,
        String.raw`wrong|tcp|600|${dest}|target=127.0.0.1:${wrong.port}|send=PING\r\n|expect=+PONG`,
        `closed|tcp|600|${dest}|target=127.0.0.1:${closedPort}`,
        `silent|tcp|600|${dest}|target=127.0.0.1:${silent.port}|expect=hello|timeout=300ms`,
        `rst|tcp|600|${dest}|target=127.0.0.1:${rst.port}|send=x|expect=y`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '5']);
    expect(r.code, r.stderr).toBe(0);
    const failures = { wrong: 'mismatch', closed: 'refused', silent: 'timeout', rst: 'reset' } as const;
    await sd.waitFor(
      () =>
        sd.sum('canihaz.echo.ok') === 50 &&
        sd.sum('canihaz.connect.ok') === 50 &&
        Object.entries(failures).every(([test, reason]) => sd.sum(`canihaz.${test}.failed.${reason}`) === 50),
      { timeoutMs: 5_000 },
    );
    for (const test of ['echo', 'connect']) {
      expect(sd.sum(`canihaz.${test}.failed`)).toBe(0);
      expect(sd.countOf(`canihaz.${test}.latency`)).toBe(50);
    }
    for (const [test, reason] of Object.entries(failures)) {
      expect(sd.sum(`canihaz.${test}.failed`), test).toBe(50);
      expect(sd.sum(`canihaz.${test}.ok`), test).toBe(0);
      expect(sd.countOf(`canihaz.${test}.latency`), test).toBe(50);
      const book = bookOf(r.stderr, test);
      expect(book, `${test} (${reason})`).toMatchObject({ requested: 50, started: 50, ok: 0, failed: 50, dropped: 0, missed: 0, aborted: 0 });
      expectBooksBalance(book);
    }
    for (const l of sd.linesOf('canihaz.silent.latency')) expect(l.value).toBeGreaterThanOrEqual(295);
    for (const test of ['echo', 'connect']) {
      const book = bookOf(r.stderr, test);
      expect(book).toMatchObject({ requested: 50, started: 50, ok: 50, failed: 0, dropped: 0, missed: 0, aborted: 0 });
      expectBooksBalance(book);
    }
    // Every execution is a fresh connect; the echo server saw both echo tests' connections.
    expect(echo.accepted()).toBe(100);
    expect(wrong.accepted()).toBe(50);
    expect(r.stderr).toMatch(/level=notice msg=summary test=echo requested=50 started=50 ok=50 failed=0 dropped=0 missed=0 aborted=0/);
  });

  it('a bad tcp line is reported FILE:LINE: field while the good line runs', async () => {
    const echo = await tcpServer((socket) => socket.pipe(socket));
    const home = await agentHome();
    await home.writeConfig(`good|tcp|600|none|target=127.0.0.1:${echo.port}\nbad|tcp|600|none|target=127.0.0.1:0|send=secret-token\\q\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${home.config}:2: target: port must be 1-65535, got \\"0\\"`);
    expect(r.stderr).toContain(`${home.config}:2: send: unknown escape`);
    expect(r.stderr).not.toContain('secret-token');
    expect(echo.accepted()).toBe(10);
  });

  it.skipIf(!privateResolverRuns)(`a target name that does not resolve is counted failed.dns, 50 of 50${privateResolverSkipNote}`, async () => {
    if (MUST_RUN_PRIVATE_RESOLVER) expectPrivateResolver();
    const dns = await startPrivateDns({ answer: 'nxdomain', forCli: true });
    cleanup(dns.close);
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`nowhere|tcp|600|statsd://127.0.0.1:${sd.port}|target=canihaz-tcp-cli.invalid:80|timeout=3s\n`);
    const r = await runCliWithDns(dns, ['run', ...home.args, '--lifetime', '5']);
    expect(r.code, r.stderr).toBe(0);
    await sd.waitFor(() => sd.sum('canihaz.nowhere.failed.dns') === 50, { timeoutMs: 5_000 });
    expect(sd.sum('canihaz.nowhere.failed')).toBe(50);
    const book = bookOf(r.stderr, 'nowhere');
    expect(book).toMatchObject({ requested: 50, started: 50, failed: 50 });
    expectBooksBalance(book);
    expect(dns.queries).toContain('canihaz-tcp-cli.invalid');
  });
});
