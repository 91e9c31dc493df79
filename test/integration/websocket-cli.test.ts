import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer, type RawData, type WebSocket as ServerSocket } from 'ws';
import { agentHome, cleanups, runCli } from '../support/cli.js';
import { bookOf, expectBooksBalance } from '../support/faults.js';
import { freePort, startUdpStatsd, type StatsdListener } from '../support/listeners.js';

/** A ws server's message as text. */
const textOf = (data: RawData): string => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');

const cleanup = cleanups();

/** A real HTTP server on 127.0.0.1, port 0 (closed after the test, its connections cut); counts its connections. */
async function httpServer(server: Server): Promise<{ port: number; accepted: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

/** A WebSocket server (ws) doing `onConnection` with each connection; keeps the upgrade requests' headers. */
async function wsServer(onConnection: (socket: ServerSocket) => void): Promise<{ url: string; accepted: () => number; upgrades: IncomingHttpHeaders[] }> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const upgrades: IncomingHttpHeaders[] = [];
  wss.on('connection', (socket, req) => {
    upgrades.push(req.headers);
    socket.on('error', () => {});
    onConnection(socket);
  });
  cleanup(async () => void wss.close());
  const { port, accepted } = await httpServer(server);
  return { url: `ws://127.0.0.1:${port}/socket`, accepted, upgrades };
}

async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

describe('canihaz run with websocket tests (real CLI, real servers, real StatsD)', () => {
  it('600/min for 5 s: 50 ok against an echo server, 50 of each failure reason, books balanced', async () => {
    const echo = await wsServer((s) => s.on('message', (data) => s.send(`echo:${textOf(data)}`)));
    const closing = await wsServer((s) => s.close(1001));
    const silent = await wsServer(() => {});
    const forbidden = await httpServer(createServer((_req, res) => res.writeHead(403).end()));
    const closedPort = await freePort();
    const sd = await statsd();
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port}`;
    await home.writeConfig(
      [
        `echo|websocket|600|${dest}|url=${echo.url}|send=ping|expect=echo:ping|header=X-Probe: canihaz`,
        `open|websocket|600|${dest}|url=${echo.url}`,
        `wrong|websocket|600|${dest}|url=${echo.url}|send=ping|expect=pong|timeout=300ms`,
        `closed|websocket|600|${dest}|url=${closing.url}|send=ping`,
        `silent|websocket|600|${dest}|url=${silent.url}|send=ping|timeout=300ms`,
        `refused|websocket|600|${dest}|url=ws://127.0.0.1:${closedPort}/`,
        `forbidden|websocket|600|${dest}|url=ws://127.0.0.1:${forbidden.port}/`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '5']);
    expect(r.code, r.stderr).toBe(0);
    const failures = { wrong: 'mismatch', closed: 'closed', silent: 'timeout', refused: 'refused', forbidden: 'status_403' } as const;
    await sd.waitFor(
      () =>
        sd.sum('canihaz.echo.ok') === 50 &&
        sd.sum('canihaz.open.ok') === 50 &&
        Object.entries(failures).every(([test, reason]) => sd.sum(`canihaz.${test}.failed.${reason}`) === 50),
      { timeoutMs: 5_000 },
    );
    for (const test of ['echo', 'open']) {
      expect(sd.sum(`canihaz.${test}.failed`)).toBe(0);
      expect(sd.countOf(`canihaz.${test}.latency`)).toBe(50);
      const book = bookOf(r.stderr, test);
      expect(book).toMatchObject({ requested: 50, started: 50, ok: 50, failed: 0, dropped: 0, missed: 0, aborted: 0 });
      expectBooksBalance(book);
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
    // One fresh connection per execution: echo, open and wrong share the echo server.
    expect(echo.accepted()).toBe(150);
    expect(echo.upgrades.filter((h) => h['x-probe'] === 'canihaz')).toHaveLength(50);
    expect(closing.accepted()).toBe(50);
    expect(forbidden.accepted()).toBeGreaterThanOrEqual(1);
    expect(r.stderr).toMatch(/level=notice msg=summary test=echo requested=50 started=50 ok=50 failed=0 dropped=0 missed=0 aborted=0/);
    // undici's WebSocket needs no flag on Node 20 and warns of nothing.
    expect(r.stderr).not.toMatch(/Warning/);
  });

  it('a bad websocket line is reported FILE:LINE: field, never quoting a header value, while the good line runs', async () => {
    const echo = await wsServer(() => {});
    const home = await agentHome();
    await home.writeConfig(
      [`good|websocket|600|none|url=${echo.url}`, `bad|websocket|600|none|url=http://127.0.0.1/|header=Authorization: Bearer secret-token\x01`, ''].join('\n'),
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${home.config}:2: url: expected an absolute ws:// or wss:// URL`);
    expect(r.stderr).toContain(`${home.config}:2: header: value of Authorization must be printable`);
    expect(r.stderr).not.toContain('secret-token');
    expect(echo.accepted()).toBe(10);
  });
});
