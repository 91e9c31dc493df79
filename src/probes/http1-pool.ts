/**
 * The http probe's own HTTP/1.1 keep-alive client for `http:` origins (https stays on undici): the
 * request written as one pre-built Buffer, responses parsed straight from the socket's reads into
 * one reusable buffer (http1-response.ts), one request per connection at a time. Connections come
 * from a `connect` function (http-pools.ts: the connection budget, the resolver, the spare).
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import type { Http1Request } from './http1-request.js';
import { COMPLETE, FAILED, NEED_MORE, ResponseParser } from './http1-response.js';
import { kReader, SocketClosedError, type Http1Socket, type SocketReader } from './http1-socket.js';

/** What a request's owner is told (the part of undici's dispatch handler HttpExchange implements). */
export interface Http1Handler {
  /** The request is about to be written; `abort` ends it (and its connection, once written). */
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(statusCode: number): unknown;
  onComplete(): void;
  onError(err: Error): void;
}

/** Opens a connected socket made by `connectHttp1` (http1-socket.ts); calls back once. */
export type Http1Connect = (callback: (err: Error | null, socket: Socket | null) => void) => void;

/** The options of an Http1Pool. */
export interface Http1PoolOptions {
  connect: Http1Connect;
  /** Most connections open or connecting at once; beyond them requests queue (FIFO). Default unlimited. */
  maxConnections?: number;
  /** The idle time of kept connections is measured on its `now()`. Default the system clock. */
  clock?: Pick<Clock, 'now'>;
}

/** Longest a connection is kept idle for reuse: under the 5 s after which Node's server closes one. */
export const MAX_IDLE_MS = 4_000;

/** Requests a destroyed pool will never send. */
export class PoolClosedError extends Error {
  readonly code = 'CANIHAZ_POOL_CLOSED';
  constructor() {
    super('connection pool closed');
  }
}

/** One connection and the request on it. */
class Connection implements SocketReader {
  readonly pool: Http1Pool;
  readonly socket: Http1Socket;
  readonly parser = new ResponseParser();
  /** The request written and not yet answered. */
  handler: Http1Handler | undefined;
  /** The request being offered (in its `onConnect`), not yet written. */
  offered: Http1Handler | undefined;
  closeAfter = false;
  idleSince = 0;
  keepMs = MAX_IDLE_MS;
  live = true;

  constructor(pool: Http1Pool, socket: Http1Socket) {
    this.pool = pool;
    this.socket = socket;
  }

  read(buf: Uint8Array, n: number): void {
    this.pool.onBytes(this, buf, n);
  }
}

/**
 * A keep-alive pool for one origin: idle connections reused (the last one used first), a new one
 * opened while fewer than `maxConnections` are open or connecting, else the request waits its turn.
 * A connection idle for longer than MAX_IDLE_MS (or the server's `Keep-Alive: timeout` less a second)
 * is closed when next picked instead of reused, so no timer runs; an error on a connection fails only
 * its own request. Every socket has a request on it, is idle in the list, or is destroyed.
 */
export class Http1Pool {
  readonly #connect: Http1Connect;
  readonly #max: number;
  readonly #clock: Pick<Clock, 'now'>;
  /** Requests waiting for a connection, FIFO from `#head`. */
  #queue: [Http1Request, Http1Handler][] = [];
  #head = 0;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  /** Connections open or connecting. */
  #open = 0;
  #connecting = 0;
  #destroyed: Promise<void> | undefined;

  constructor(options: Http1PoolOptions) {
    this.#connect = options.connect;
    this.#max = options.maxConnections ?? Infinity;
    this.#clock = options.clock ?? systemClock;
  }

  /** Sends `request` on a free connection or queues it; a destroyed pool fails it at once. */
  dispatch(request: Http1Request, handler: Http1Handler): boolean {
    if (this.#destroyed) {
      handler.onError(new PoolClosedError());
      return false;
    }
    // Idle connections first, most recent first: an older one idle for too long is closed.
    const now = this.#clock.now();
    for (let conn = this.#idle.pop(); conn; conn = this.#idle.pop()) {
      if (now - conn.idleSince >= conn.keepMs) {
        this.#drop(conn);
        continue;
      }
      // A handler that gives up in its onConnect leaves the connection as it was.
      if (!this.#offer(conn, request, handler)) this.#release(conn, true);
      return true;
    }
    this.#queue.push([request, handler]);
    this.#grow();
    return true;
  }

  /** Fails every queued request, ends every connection; resolves once every socket has closed. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const err = new PoolClosedError();
      for (const [, handler] of this.#takeQueue()) handler.onError(err);
      const closed: Promise<unknown>[] = [];
      for (const conn of [...this.#all]) {
        const handler = conn.handler ?? conn.offered;
        conn.handler = conn.offered = undefined;
        if (!conn.socket.closed) closed.push(once(conn.socket, 'close').catch(() => undefined));
        this.#drop(conn);
        handler?.onError(err);
      }
      await Promise.all(closed);
    })();
    return this.#destroyed;
  }

  #takeQueue(): [Http1Request, Http1Handler][] {
    const queued = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return queued;
  }

  #shift(): [Http1Request, Http1Handler] | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const next = this.#queue[this.#head++]!;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return next;
  }

  /** Opens connections for queued requests, within `maxConnections`. */
  #grow(): void {
    const waiting = this.#queue.length - this.#head;
    while (!this.#destroyed && this.#connecting < waiting && this.#open < this.#max) {
      this.#open++;
      this.#connecting++;
      this.#connect((err, socket) => this.#connected(err, socket));
    }
  }

  #connected(err: Error | null, socket: Socket | null): void {
    this.#connecting--;
    if (err || !socket || this.#destroyed) {
      this.#open--;
      socket?.destroy();
      if (this.#destroyed) return;
      // The connect was for the longest waiter: it fails; the others get connects of their own.
      this.#shift()?.[1].onError(err ?? new SocketClosedError());
      this.#grow();
      return;
    }
    const conn = new Connection(this, socket);
    conn.socket[kReader] = conn;
    this.#all.add(conn);
    socket.on('error', (e: Error) => this.#lost(conn, e));
    socket.on('end', () => this.#ended(conn));
    socket.on('close', () => this.#lost(conn, new SocketClosedError()));
    this.#release(conn, true);
  }

  /** Gives `handler`'s request to `conn`; false when the handler gave up in its `onConnect`. */
  #offer(conn: Connection, request: Http1Request, handler: Http1Handler): boolean {
    conn.offered = handler;
    handler.onConnect((err) => this.#abort(conn, handler, err ?? new Error('aborted')));
    if (conn.offered !== handler) return false;
    conn.offered = undefined;
    conn.handler = handler;
    conn.closeAfter = request.close;
    conn.parser.start(request.head);
    conn.socket.write(request.bytes);
    return true;
  }

  /** A response ended on `conn`: the next queued request goes on it, or it waits idle (or closes). */
  #release(conn: Connection, reusable: boolean): void {
    if (!reusable || this.#destroyed) {
      this.#drop(conn);
      this.#grow();
      return;
    }
    for (let next = this.#shift(); next; next = this.#shift()) if (this.#offer(conn, next[0], next[1])) return;
    conn.idleSince = this.#clock.now();
    this.#idle.push(conn);
  }

  #abort(conn: Connection, handler: Http1Handler, err: Error): void {
    if (conn.offered === handler) {
      // Not written yet: the connection stays good.
      conn.offered = undefined;
      handler.onError(err);
      return;
    }
    if (conn.handler !== handler) return;
    conn.handler = undefined;
    this.#drop(conn);
    handler.onError(err);
    this.#grow();
  }

  /** Bytes read on `conn` (its socket's `onread`; not for other callers). */
  onBytes(conn: Connection, buf: Uint8Array, n: number): void {
    const handler = conn.handler;
    if (!handler) return this.#lost(conn, new SocketClosedError());
    const parser = conn.parser;
    const result = parser.feed(buf, 0, n);
    if (result === NEED_MORE) return;
    conn.handler = undefined;
    if (result === FAILED) {
      this.#drop(conn);
      handler.onError(parser.error!);
      this.#grow();
      return;
    }
    if (result !== COMPLETE) return;
    const hint = parser.keepAliveHintMs;
    conn.keepMs = hint < 0 ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, hint - 1_000);
    // Bytes after the response (a server out of step with us) end the connection, not the request.
    const reusable = parser.keepAlive && !conn.closeAfter && parser.end === n && conn.keepMs > 0;
    handler.onHeaders(parser.status);
    handler.onComplete();
    this.#release(conn, reusable);
  }

  /** The server ended its side: the end of a body delimited by the close, or of the connection. */
  #ended(conn: Connection): void {
    const handler = conn.handler;
    if (handler && conn.parser.close()) {
      conn.handler = undefined;
      this.#drop(conn);
      handler.onHeaders(conn.parser.status);
      handler.onComplete();
      this.#grow();
      return;
    }
    this.#lost(conn, new SocketClosedError());
  }

  /** `conn` failed or closed: its request (if any) fails with `err`. */
  #lost(conn: Connection, err: Error): void {
    const handler = conn.handler;
    conn.handler = undefined;
    const live = conn.live;
    this.#drop(conn);
    handler?.onError(err);
    if (live) this.#grow();
  }

  /** Ends `conn` and forgets it (once). */
  #drop(conn: Connection): void {
    if (!conn.live) return;
    conn.live = false;
    this.#open--;
    this.#all.delete(conn);
    const at = this.#idle.indexOf(conn);
    if (at >= 0) this.#idle.splice(at, 1);
    conn.socket.destroy();
  }
}
