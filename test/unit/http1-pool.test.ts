/**
 * The http probe's own HTTP/1.1 pool (http1-pool.ts) against real node:net servers on 127.0.0.1
 * that answer with scripted bytes, counting connections on the server side.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, assert, describe, expect, it, vi } from 'vitest';
import { Http1Pool, MAX_IDLE_MS, type Http1Handler } from '../../src/probes/http1-pool.js';
import { buildHttp1Request } from '../../src/probes/http1-request.js';
import { connectHttp1 } from '../../src/probes/http1-socket.js';
import { classifyNetError } from '../../src/probes/net-errors.js';

/** Answers a request: `index` counts the requests of this connection, `conn` the connections. */
type Script = (socket: Socket, request: { path: string; index: number; conn: number }) => void;

interface Target {
  port: number;
  opened: number;
  open: number;
  paths: string[];
  sockets: Socket[];
}

const servers: Server[] = [];
const pools: Http1Pool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  for (const s of servers.splice(0)) s.close();
});

async function target(script: Script): Promise<Target> {
  const t: Target = { port: 0, opened: 0, open: 0, paths: [], sockets: [] };
  const server = createServer((socket) => {
    const conn = t.opened++;
    t.open++;
    t.sockets.push(socket);
    socket.on('close', () => t.open--).on('error', () => {});
    let [pending, index] = ['', 0];
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      // Bounded: each pass takes one request head off `pending`.
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const path = pending.slice(0, end).split(' ')[1]!;
        pending = pending.slice(end + 4);
        t.paths.push(path);
        script(socket, { path, index: index++, conn });
      }
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.port = (server.address() as AddressInfo).port;
  return t;
}

const noLookup = () => assert.fail('an IP literal needs no lookup');
function poolFor(t: Target, options: { max?: number; now?: () => number } = {}): Http1Pool {
  const pool = new Http1Pool({
    connect: (cb) => void connectHttp1({ host: '127.0.0.1', port: t.port, timeoutMs: 2_000, lookup: noLookup }, cb),
    ...(options.max ? { maxConnections: options.max } : {}),
    ...(options.now ? { clock: { now: options.now } } : {}),
  });
  pools.push(pool);
  return pool;
}

type Outcome = { status: number } | { error: Error; reason: string };
/** A handler that records its outcome; `abortOnConnect` gives up as an expired execution would. */
class Recorder implements Http1Handler {
  status = 0;
  abort: ((err?: Error) => void) | undefined;
  readonly done: Promise<Outcome>;
  #resolve!: (o: Outcome) => void;
  constructor(readonly abortOnConnect = false) {
    this.done = new Promise((r) => (this.#resolve = r));
  }
  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.abortOnConnect) abort(new Error('gave up'));
  }
  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }
  onComplete(): void {
    this.#resolve({ status: this.status });
  }
  onError(error: Error): void {
    this.#resolve({ error, reason: classifyNetError(error) });
  }
}

const get = (path = '/') => buildHttp1Request(new URL(`http://127.0.0.1${path}`), 'GET', [], undefined);
const head = buildHttp1Request(new URL('http://127.0.0.1/'), 'HEAD', [], undefined);
function send(pool: Http1Pool, request = get(), handler = new Recorder()): Promise<Outcome> {
  pool.dispatch(request, handler);
  return handler.done;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('buildHttp1Request', () => {
  it('writes what undici wrote: host, keep-alive, the headers in order, a length for a body', () => {
    const request = buildHttp1Request(new URL('http://example.test:8080/a?b=1'), 'POST', [['X-A', '1'], ['X-A', '2']], Buffer.from('{"q":1}'));
    expect(request.bytes.toString('latin1')).toBe(
      'POST /a?b=1 HTTP/1.1\r\nhost: example.test:8080\r\nconnection: keep-alive\r\nX-A: 1\r\nX-A: 2\r\ncontent-length: 7\r\n\r\n{"q":1}',
    );
    expect(request).toMatchObject({ head: false, close: false });
  });

  it('a Host header replaces the origin, Connection: close is kept, POST without a body says 0, HEAD is marked', () => {
    const post = buildHttp1Request(new URL('http://127.0.0.1:1/'), 'POST', [['Host', 'virtual.test'], ['Connection', 'close']], undefined);
    expect(post.bytes.toString('latin1')).toBe('POST / HTTP/1.1\r\nhost: virtual.test\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    expect(post.close).toBe(true);
    expect(head.head).toBe(true);
    expect(get().bytes.toString('latin1')).toBe('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n');
  });
});

describe('Http1Pool against scripted servers', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const t = await target((s) => s.write(OK));
    const pool = poolFor(t);
    for (let i = 0; i < 5; i++) expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(1);
  });

  it('opens at most maxConnections and serves the queue first in, first out', async () => {
    const held: Socket[] = [];
    const t = await target((s) => held.push(s));
    const pool = poolFor(t, { max: 2 });
    const results = Array.from({ length: 5 }, (_, i) => send(pool, get(`/${i}`)));
    await vi.waitFor(() => expect(t.paths).toEqual(['/0', '/1']));
    expect(t.opened).toBe(2);
    // Each answer frees a connection for the next request in line; bounded: five answers.
    for (let i = 0; i < 5; i++) {
      await vi.waitFor(() => expect(held.length).toBeGreaterThan(i));
      held[i]!.write(OK);
    }
    expect(await Promise.all(results)).toEqual(Array(5).fill({ status: 200 }));
    expect(t.paths).toEqual(['/0', '/1', '/2', '/3', '/4']);
    expect(t.opened).toBe(2);
  });

  it('closes the connection after a response with Connection: close', async () => {
    const t = await target((s) => s.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    await vi.waitFor(() => expect(t.open).toBe(0));
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
  });

  it('reads a chunked body and keeps the connection', async () => {
    const t = await target((s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n');
      setTimeout(() => s.write('0\r\n\r\n'), 5);
    });
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(1);
  });

  it('an HTTP/1.0 body without a length ends with the close', async () => {
    const t = await target((s) => {
      s.write('HTTP/1.0 200 OK\r\n\r\nsome body');
      setTimeout(() => s.end(), 5);
    });
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
  });

  it('skips 100 Continue and counts the final status', async () => {
    const t = await target((s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'));
    expect(await send(poolFor(t))).toEqual({ status: 201 });
  });

  it('HEAD: no body after a Content-Length, and the connection is reused', async () => {
    const t = await target((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'));
    const pool = poolFor(t);
    expect(await send(pool, head)).toEqual({ status: 200 });
    expect(await send(pool, head)).toEqual({ status: 200 });
    expect(t.opened).toBe(1);
  });

  it('204: no body, and the connection is reused', async () => {
    const t = await target((s) => s.write('HTTP/1.1 204 No Content\r\n\r\n'));
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 204 });
    expect(await send(pool)).toEqual({ status: 204 });
    expect(t.opened).toBe(1);
  });

  it('a server closing mid-body is `reset`', async () => {
    const t = await target((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
    expect(await send(poolFor(t))).toMatchObject({ reason: 'reset', error: { code: 'ECONNRESET' } });
  });

  it('a server closing an idle connection: the next request opens a new one, without an error', async () => {
    const t = await target((s) => s.write(OK));
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    t.sockets[0]!.end();
    await vi.waitFor(() => expect(t.open).toBe(0));
    await new Promise((r) => setTimeout(r, 10));
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
  });

  it('a connection idle longer than 4 s, or than the server\'s Keep-Alive timeout less 1 s, is closed, not reused', async () => {
    let now = 0;
    const t = await target((s, { conn }) => s.write(conn === 0 ? OK : 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=3\r\nContent-Length: 0\r\n\r\n'));
    const pool = poolFor(t, { now: () => now });
    expect(await send(pool)).toEqual({ status: 200 });
    now += MAX_IDLE_MS - 1;
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(1);
    now += MAX_IDLE_MS;
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
    await vi.waitFor(() => expect(t.open).toBe(1));
    // The second connection said timeout=3: kept 2 s, not 4.
    now += 1_999;
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
    now += 2_000;
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(3);
  });

  it('a garbage response is `other`, and its connection is closed', async () => {
    const t = await target((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n'));
    expect(await send(poolFor(t))).toMatchObject({ reason: 'other', error: { code: 'CANIHAZ_HTTP_PARSE' } });
    await vi.waitFor(() => expect(t.open).toBe(0));
  });

  it('bytes after a response: the request succeeds, the connection is not reused', async () => {
    const t = await target((s) => s.write(`${OK}JUNK`));
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(2);
  });

  it('abort of a request in flight destroys its connection', async () => {
    const t = await target(() => {});
    const pool = poolFor(t);
    const handler = new Recorder();
    const pending = send(pool, get(), handler);
    await vi.waitFor(() => expect(t.paths).toHaveLength(1));
    handler.abort!(new Error('timeout'));
    expect(await pending).toMatchObject({ error: { message: 'timeout' } });
    await vi.waitFor(() => expect(t.open).toBe(0));
  });

  it('a request given up before it is written leaves its connection for the next one', async () => {
    const t = await target((s) => s.write(OK));
    const pool = poolFor(t);
    expect(await send(pool)).toEqual({ status: 200 });
    expect(await send(pool, get(), new Recorder(true))).toMatchObject({ error: { message: 'gave up' } });
    expect(await send(pool)).toEqual({ status: 200 });
    expect(t.opened).toBe(1);
    expect(t.paths).toHaveLength(2);
  });

  it('an error on one connection fails only its request: the queued one goes on to a new connection', async () => {
    const t = await target((s, { conn }) => (conn === 0 ? s.resetAndDestroy() : s.write(OK)));
    const pool = poolFor(t, { max: 1 });
    const [first, second] = [send(pool), send(pool)];
    expect(await first).toMatchObject({ reason: 'reset' });
    expect(await second).toEqual({ status: 200 });
  });

  it('a refused connect fails the request it was opened for', async () => {
    const t = await target(() => {});
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 10));
    const pool = poolFor(t, { max: 2 });
    const results = await Promise.all([send(pool), send(pool), send(pool)]);
    for (const r of results) expect(r).toMatchObject({ reason: 'refused' });
  });

  it('destroy() fails queued requests (`other`), ends requests in flight and leaves no socket open', async () => {
    const t = await target(() => {});
    const pool = poolFor(t, { max: 2 });
    const results = Array.from({ length: 4 }, () => send(pool));
    await vi.waitFor(() => expect(t.paths).toHaveLength(2));
    await pool.destroy();
    for (const r of await Promise.all(results)) expect(r).toMatchObject({ reason: 'other', error: { code: 'CANIHAZ_POOL_CLOSED' } });
    await vi.waitFor(() => expect(t.open).toBe(0));
    expect(await send(pool)).toMatchObject({ reason: 'other' });
    expect(t.opened).toBe(2);
  });
});
