import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type RawData, type WebSocket as ServerSocket } from 'ws';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { createHostResolver } from '../../src/net/resolve.js';
import type { Probe } from '../../src/probes/probe.js';
import { createWebSocketProbe, websocketProbeType } from '../../src/probes/websocket.js';
import type { WebSocketProbeOptions } from '../../src/probes/websocket-params.js';
import { CLOSE_BOUND_MS, MAX_QUEUED_MESSAGES, openWebSocket, WebSocketError, type WebSocketSession } from '../../src/probes/websocket-session.js';
import { NO_OPENSSL, testCerts } from '../support/certs.js';
import { connectHangs, startHangingConnectTarget } from '../support/hanging-connect.js';
import { startPrivateDns, type DnsAnswer } from '../support/private-resolver.js';

/** A ws server's message as text. */
const textOf = (data: RawData): string => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');

const cleanups: (() => Promise<void> | void)[] = [];
const probes: Probe[] = [];

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A WebSocket server of ours (ws on a real http(s) server, 127.0.0.1, port 0) and what it saw. */
interface WsTarget {
  url: string;
  port: number;
  /** Upgrade requests' headers, in arrival order. */
  headers: IncomingHttpHeaders[];
  /** TCP connections accepted so far. */
  accepted(): number;
  /** TCP connections still open. */
  open(): number;
  /** Close codes the server received from clients (1005: none given; 1006: dropped without a close frame). */
  closeCodes: number[];
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Counts a server's TCP connections; destroys the remaining ones when the test ends. */
function track(server: Server): { accepted: () => number; open: () => number } {
  const sockets = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { accepted: () => accepted, open: () => sockets.size };
}

async function wsTarget(onConnection: (socket: ServerSocket) => void, tlsOptions?: { cert: string; key: string }): Promise<WsTarget> {
  const server = tlsOptions ? createHttpsServer(tlsOptions) : createServer();
  const counts = track(server);
  const wss = new WebSocketServer({ server });
  const headers: IncomingHttpHeaders[] = [];
  const closeCodes: number[] = [];
  wss.on('connection', (socket, req) => {
    headers.push(req.headers);
    socket.on('close', (code) => closeCodes.push(code));
    socket.on('error', () => {});
    onConnection(socket);
  });
  cleanups.push(() => void wss.close());
  const port = await listen(server);
  return { url: `${tlsOptions ? 'wss' : 'ws'}://127.0.0.1:${port}/socket`, port, headers, closeCodes, ...counts };
}

const echo = (socket: ServerSocket) => socket.on('message', (data, binary) => socket.send(binary ? data : `echo:${textOf(data)}`));
const silent = () => {};

/** Parses `key=value` fields as a config line would. */
function optionsFor(...fields: string[]): WebSocketProbeOptions {
  const params = new Map<string, string[]>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    params.set(key, [...(params.get(key) ?? []), f.slice(eq + 1)]);
  }
  const parsed = websocketProbeType.parse(params);
  if (!parsed.ok) throw new Error(`bad params: ${JSON.stringify(parsed.issues)}`);
  return parsed.options;
}

const context = { clock: systemClock, logger: silentLogger, test: 'websocket-probe-test' };

function probeFor(...fields: string[]): Probe {
  const probe = websocketProbeType.create(optionsFor(...fields), context);
  probes.push(probe);
  return probe;
}

const never = new AbortController().signal;

/** A port nothing listens on (a server opened and closed). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('websocket probe: success', () => {
  it('send + expect: ok, latency to the expected reply; one connection per execution, each closed with 1000', async () => {
    const target = await wsTarget(echo);
    const probe = probeFor(`url=${target.url}`, 'send=ping', 'expect=echo:ping');
    for (let i = 0; i < 3; i++) {
      const result = await probe.execute(never);
      expect(result).toMatchObject({ ok: true });
      expect(result.latencyMs).toBeGreaterThan(0);
      expect(result.latencyMs).toBeLessThan(1_000);
    }
    expect(target.accepted()).toBe(3);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(target.closeCodes).toEqual([1000, 1000, 1000]);
  });

  it('open only: ok once the upgrade succeeds, nothing sent', async () => {
    let messages = 0;
    const target = await wsTarget((s) => s.on('message', () => messages++));
    const result = await probeFor(`url=${target.url}`).execute(never);
    expect(result).toMatchObject({ ok: true });
    await vi.waitFor(() => expect(target.closeCodes).toEqual([1000]), { timeout: 2_000 });
    expect(messages).toBe(0);
  });

  it('send without expect waits for any reply; expect without send waits for a pushed greeting', async () => {
    const target = await wsTarget((s) => {
      s.send('hello there');
      echo(s);
    });
    expect(await probeFor(`url=${target.url}`, 'expect=hello').execute(never)).toMatchObject({ ok: true });
    // The greeting is the first reply; with send and no expect, any reply ends the execution.
    expect(await probeFor(`url=${target.url}`, 'send=x').execute(never)).toMatchObject({ ok: true });
    // The greeting does not match; the echo that follows does.
    expect(await probeFor(`url=${target.url}`, 'send=abc', 'expect=echo:abc').execute(never)).toMatchObject({ ok: true });
  });

  it('header= values reach the server with the upgrade', async () => {
    const target = await wsTarget(silent);
    const probe = probeFor(`url=${target.url}?room=7`, 'header=Authorization: Bearer s3cret', 'header=X-Probe: canihaz', 'header=Sec-WebSocket-Protocol: chat');
    // ws selects no subprotocol here, so undici (which asked for none itself) accepts the upgrade.
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(target.headers[0]).toMatchObject({ authorization: 'Bearer s3cret', 'x-probe': 'canihaz', upgrade: 'websocket' });
  });

  it('a host name is resolved by the probe resolver (a DNS server of ours), once for many executions', async () => {
    const target = await wsTarget(echo);
    const { probe, queries } = await probeWithDns({ a: '127.0.0.1' }, `url=ws://target.example.test:${target.port}/`, 'send=a', 'expect=echo:a');
    const results = await Promise.all(Array.from({ length: 5 }, () => probe.execute(never)));
    expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
    expect(queries).toEqual(['target.example.test']);
    expect(target.headers[0]?.host).toBe(`target.example.test:${target.port}`);
  });

  const certs = testCerts();
  it.skipIf(!certs)(`wss:// to a private CA: ok with ca=, tls without${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, async () => {
    const target = await wsTarget(echo, { cert: certs!.leaf.cert, key: certs!.leaf.key });
    expect(await probeFor(`url=${target.url}`, `ca=${certs!.ca.certPath}`, 'send=s', 'expect=echo:s').execute(never)).toMatchObject({ ok: true });
    expect(await probeFor(`url=${target.url}`, 'send=s', 'timeout=3s').execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(target.headers).toHaveLength(1);
  });
});

/** A probe whose names are resolved by a DNS server of ours answering `answer` (an empty hosts file). */
async function probeWithDns(answer: DnsAnswer, ...fields: string[]): Promise<{ probe: Probe; queries: string[] }> {
  const dns = await startPrivateDns({ answer });
  cleanups.push(dns.close);
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-ws-hosts-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hosts'), '');
  const resolver = createHostResolver({ servers: [dns.server], hostsFile: join(dir, 'hosts'), resolvConf: dns.resolvConf });
  const probe = createWebSocketProbe(optionsFor(...fields), context, resolver);
  probes.push(probe);
  return { probe, queries: dns.queries };
}

describe('websocket probe: failures', () => {
  it('closed: the server closes after open, before the reply', async () => {
    const target = await wsTarget((s) => s.close(1001, 'going away'));
    const result = await probeFor(`url=${target.url}`, 'send=ping', 'expect=pong', 'timeout=5s').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'closed' });
    expect(result.latencyMs).toBeLessThan(1_000);
  });

  it('closed: the server drops the connection without a close frame', async () => {
    const target = await wsTarget((s) => s.on('message', () => s.terminate()));
    expect(await probeFor(`url=${target.url}`, 'send=ping', 'timeout=5s').execute(never)).toMatchObject({ ok: false, reason: 'closed' });
  });

  it('mismatch: replies came, none matched, by the timeout', async () => {
    const target = await wsTarget(echo);
    const started = performance.now();
    const result = await probeFor(`url=${target.url}`, 'send=ping', 'expect=pong', 'timeout=400ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(395);
    expect(performance.now() - started).toBeLessThan(1_000);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });

  it('timeout: the server never replies', async () => {
    const target = await wsTarget(silent);
    const result = await probeFor(`url=${target.url}`, 'send=ping', 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(295);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });

  it('timeout: a server that ignores the close frame too; the execution still ends at its timeout and drops the socket', async () => {
    const target = await deafTarget();
    const started = performance.now();
    const result = await probeFor(`url=${target.url}`, 'send=ping', 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    // Not the close's own bound (CLOSE_BOUND_MS) on top of the timeout.
    expect(performance.now() - started).toBeLessThan(300 + CLOSE_BOUND_MS / 2);
    await vi.waitFor(() => expect(target.ended()).toBe(1), { timeout: 2_000 });
  });

  it('timeout: the connect hangs; the execution ends on time', async () => {
    const hanging = await startHangingConnectTarget();
    cleanups.push(hanging.close);
    if (!(await connectHangs(hanging.port, 200))) return void console.warn('skipped: connects to the hanging listener completed here');
    const started = performance.now();
    const result = await probeFor(`url=ws://127.0.0.1:${hanging.port}/`, 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('refused: nothing listens', async () => {
    const port = await closedPort();
    const result = await probeFor(`url=ws://127.0.0.1:${port}/`).execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'refused' });
  });

  it('status_403: a plain HTTP server refuses the upgrade', async () => {
    const server = createServer((_req, res) => res.writeHead(403).end('forbidden'));
    track(server);
    const port = await listen(server);
    expect(await probeFor(`url=ws://127.0.0.1:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'status_403' });
  });

  it('status_200: a server that answers the upgrade like a plain request', async () => {
    const server = createServer((_req, res) => res.end('hello'));
    track(server);
    const port = await listen(server);
    expect(await probeFor(`url=ws://127.0.0.1:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'status_200' });
  });

  it('dns: a name that does not resolve (NXDOMAIN from a DNS server of ours)', async () => {
    const { probe, queries } = await probeWithDns('nxdomain', 'url=ws://canihaz-ws-test.invalid:8080/', 'timeout=3s');
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'dns' });
    expect(queries).toContain('canihaz-ws-test.invalid');
  });

  it('aborted: the run stops while waiting for a reply; the connection is closed at once', async () => {
    const target = await wsTarget(silent);
    const stop = new AbortController();
    const pending = probeFor(`url=${target.url}`, 'send=ping', 'timeout=60s').execute(stop.signal);
    await vi.waitFor(() => expect(target.accepted()).toBe(1), { timeout: 2_000 });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    const stoppedAt = performance.now();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(performance.now() - stoppedAt).toBeLessThan(100);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });

  it('aborted: the run stops while the connect hangs', async () => {
    const hanging = await startHangingConnectTarget();
    cleanups.push(hanging.close);
    if (!(await connectHangs(hanging.port, 200))) return void console.warn('skipped: connects to the hanging listener completed here');
    const stop = new AbortController();
    const pending = probeFor(`url=ws://127.0.0.1:${hanging.port}/`, 'timeout=60s').execute(stop.signal);
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    const stoppedAt = performance.now();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(performance.now() - stoppedAt).toBeLessThan(100);
  });

  it('close() ends executions in flight at once (other) and their connections', async () => {
    const target = await wsTarget(silent);
    const probe = probeFor(`url=${target.url}`, 'send=ping', 'timeout=60s');
    const pending = [probe.execute(never), probe.execute(never)];
    await vi.waitFor(() => expect(target.headers).toHaveLength(2), { timeout: 2_000 });
    const closedAt = performance.now();
    await probe.close();
    for (const r of await Promise.all(pending)) expect(r).toMatchObject({ ok: false, reason: 'other' });
    expect(performance.now() - closedAt).toBeLessThan(100);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'other' });
    expect(target.accepted()).toBe(2);
  });
});

/** A server that completes the upgrade by hand and then ignores every frame (the close frame too). */
async function deafTarget(): Promise<{ url: string; ended: () => number }> {
  const server = createServer();
  track(server);
  let ended = 0;
  server.on('upgrade', (req, socket: Socket) => {
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', () => {});
    socket.on('error', () => {});
    // Half-open after the client's FIN (this server never ends its side): count the FINs.
    socket.on('end', () => ended++);
  });
  const port = await listen(server);
  return { url: `ws://127.0.0.1:${port}/`, ended: () => ended };
}

describe('websocket session', () => {
  const opened: WebSocketSession[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  async function open(url: string, options: { signal?: AbortSignal; headers?: [string, string][]; timeoutMs?: number } = {}): Promise<WebSocketSession> {
    const session = await openWebSocket(url, { signal: options.signal ?? never, clock: systemClock, timeoutMs: options.timeoutMs ?? 5_000, ...(options.headers ? { headers: options.headers } : {}) });
    opened.push(session);
    return session;
  }
  async function failure(promise: Promise<unknown>): Promise<WebSocketError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WebSocketError);
    return err as WebSocketError;
  }

  it('queues messages from open; receive() takes them in order, skipping those without `contains`', async () => {
    const target = await wsTarget((s) => ['one', 'two', 'three', 'four'].forEach((m) => s.send(m)));
    const session = await open(target.url);
    await new Promise((r) => setTimeout(r, 100));
    expect(await session.receive()).toBe('one');
    expect(await session.receive({ contains: 'hre' })).toBe('three');
    expect(await session.receive()).toBe('four');
    expect((await failure(session.receive({ timeoutMs: 100 }))).reason).toBe('timeout');
  });

  it('keeps at most MAX_QUEUED_MESSAGES unread messages, dropping the oldest', async () => {
    const total = MAX_QUEUED_MESSAGES + 5;
    const target = await wsTarget((s) => {
      for (let i = 0; i < total; i++) s.send(`m${i}`);
      s.close(1000);
    });
    const session = await open(target.url);
    // Closed after the last message: every message is queued by then (and stays receivable).
    await vi.waitFor(() => expect(target.closeCodes).toHaveLength(1), { timeout: 5_000 });
    expect(await session.receive()).toBe('m5');
    expect(await session.receive({ contains: `m${total - 1}` })).toBe(`m${total - 1}`);
  });

  it('send/receive round trip; binary replies read as UTF-8 text; headers sent', async () => {
    const target = await wsTarget((s) => s.on('message', (data) => s.send(Buffer.from(`bin:${textOf(data)}`), { binary: true })));
    const session = await open(target.url, { headers: [['X-Trace', 'abc']] });
    session.send('héllo');
    expect(await session.receive({ contains: 'bin:' })).toBe('bin:héllo');
    expect(target.headers[0]?.['x-trace']).toBe('abc');
  });

  it('mismatch, closed, a second receive, send after close', async () => {
    const target = await wsTarget((s) => s.on('message', (data) => (textOf(data) === 'bye' ? s.close(4000) : s.send(`echo:${textOf(data)}`))));
    const session = await open(target.url);
    session.send('a');
    expect((await failure(session.receive({ contains: 'zzz', timeoutMs: 200 }))).reason).toBe('mismatch');
    const waiting = session.receive({ timeoutMs: 2_000 });
    expect((await failure(session.receive())).reason).toBe('other');
    session.send('bye');
    expect((await failure(waiting)).reason).toBe('closed');
    const err = (() => {
      try {
        session.send('late');
      } catch (e) {
        return e as WebSocketError;
      }
      return undefined;
    })();
    expect(err?.reason).toBe('closed');
  });

  it('messages that came before the close can still be received', async () => {
    const target = await wsTarget((s) => {
      s.send('last words');
      s.close(1000);
    });
    const session = await open(target.url);
    await vi.waitFor(() => expect(target.closeCodes).toHaveLength(1), { timeout: 2_000 });
    expect(await session.receive()).toBe('last words');
    expect((await failure(session.receive())).reason).toBe('closed');
  });

  it('aborting the signal rejects the pending receive and closes the connection', async () => {
    const target = await wsTarget(silent);
    const stop = new AbortController();
    const session = await open(target.url, { signal: stop.signal });
    const waiting = session.receive({ timeoutMs: 60_000 });
    stop.abort();
    expect((await failure(waiting)).reason).toBe('aborted');
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(() => session.send('x')).toThrow(WebSocketError);
  });

  it('aborting during the opening rejects with aborted; an aborted signal opens nothing', async () => {
    const target = await wsTarget(silent);
    const stop = new AbortController();
    stop.abort();
    expect((await failure(open(target.url, { signal: stop.signal }))).reason).toBe('aborted');
    expect(target.accepted()).toBe(0);
  });

  it('opening failures carry the shared reasons', async () => {
    expect((await failure(open(`ws://127.0.0.1:${await closedPort()}/`))).reason).toBe('refused');
    const server = createServer((_req, res) => res.writeHead(401).end());
    track(server);
    const port = await listen(server);
    expect((await failure(open(`ws://127.0.0.1:${port}/`))).reason).toBe('status_401');
    expect((await failure(open('http://127.0.0.1:1/'))).reason).toBe('other');
  });

  it('close() resolves within its bound when the server ignores the close frame, and drops the socket', async () => {
    const target = await deafTarget();
    const session = await openWebSocket(target.url, { signal: never, clock: systemClock, timeoutMs: 2_000 });
    const started = performance.now();
    await session.close();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(CLOSE_BOUND_MS - 5);
    expect(took).toBeLessThan(CLOSE_BOUND_MS + 300);
    await vi.waitFor(() => expect(target.ended()).toBe(1), { timeout: 2_000 });
    await session.close();
  });

  it('close() against a well-behaved server: the handshake completes (1000 at the server) and resolves quickly', async () => {
    const target = await wsTarget(silent);
    const session = await openWebSocket(target.url, { signal: never, clock: systemClock, timeoutMs: 2_000 });
    const started = performance.now();
    await session.close();
    expect(performance.now() - started).toBeLessThan(200);
    await vi.waitFor(() => expect(target.closeCodes).toEqual([1000]), { timeout: 2_000 });
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });
});
