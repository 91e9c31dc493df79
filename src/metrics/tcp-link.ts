/**
 * One TCP connection to a line server (StatsD over TCP, Graphite's plaintext protocol), kept up by
 * `TcpLink`: connect timeout, reconnect with backoff, lines lost with a connection counted and
 * warned about, a graceful close at stop bounded by its deadline.
 */
import net from 'node:net';
import { withDeadline, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { HostResolver } from '../net/resolve.js';
import { Backoff, resolveHost, WarnLimiter } from './transport.js';

/** A connection attempt that has not succeeded by then is abandoned, ms. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** One TCP connection that carries lines. */
export interface TcpLine {
  socket: net.Socket;
  /** True between `connect` and the first sign of trouble; only then is it written to. */
  open: boolean;
  createdMono: number;
  /** Lines whose write callback succeeded on this connection. */
  linesWritten: number;
  /** Set by `closeTcpLine` when it ends the connection itself. */
  endedByUs: boolean;
}

export interface TcpLineOptions<L extends TcpLine> {
  address: string;
  port: number;
  clock: Clock;
  /** Connected: mark it open (or not) and send what waits. */
  onConnect(line: L): void;
  onError(err: unknown): void;
  /** Closed (after `line.open` is cleared); lines written on it that the server never confirmed are the caller's to count. */
  onClose(line: L): void;
}

/**
 * Opens a connection (unref'd, keep-alive, abandoned after `CONNECT_TIMEOUT_MS`) carrying the caller's
 * own fields `extra`; throws what `net.connect` throws.
 */
export function openTcpLine<E extends object>(options: TcpLineOptions<TcpLine & E>, extra: E): TcpLine & E {
  const socket = net.connect({ host: options.address, port: options.port });
  const line: TcpLine & E = { ...extra, socket, open: false, createdMono: options.clock.now(), linesWritten: 0, endedByUs: false };
  socket.unref();
  socket.setKeepAlive(true);
  socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
  socket.on('connect', () => {
    socket.setTimeout(0);
    options.onConnect(line);
  });
  // The server never answers; read and discard anything it sends so the socket can close cleanly.
  socket.on('data', () => undefined);
  // The server closed its side: write no more on this connection (the close follows).
  socket.on('end', () => (line.open = false));
  socket.on('error', (err) => {
    line.open = false;
    options.onError(err);
  });
  socket.on('close', () => {
    line.open = false;
    options.onClose(line);
  });
  return line;
}

/** Counts lines written on connections that were lost, warning about them at most once per `WARN_EVERY_MS`. */
export class LostLines {
  #limiter: WarnLimiter;
  #logger: Logger;
  #message: string;
  #destination: string;
  #sinceWarn = 0;

  constructor(clock: Clock, logger: Logger, kind: string, destination: string) {
    this.#limiter = new WarnLimiter(clock);
    this.#logger = logger;
    this.#message = `${kind} connection lost: lines written on it may not have been delivered`;
    this.#destination = destination;
  }

  /** Notes a closed connection; returns how many of its lines are unconfirmed (none when we ended it). */
  closed(line: TcpLine): number {
    const lost = line.endedByUs ? 0 : line.linesWritten;
    line.linesWritten = 0;
    if (lost === 0) return 0;
    // No acknowledgements in these protocols: what was written shortly before the loss may be gone.
    this.#sinceWarn += lost;
    if (this.#limiter.ready()) {
      this.#logger.warn(this.#message, { destination: this.#destination, lines: this.#sinceWarn });
      this.#sinceWarn = 0;
    }
    return lost;
  }
}

/**
 * Ends a connection at stop: gracefully (FIN after what the socket holds; the server closes its side
 * once it has read it all) or, when not `graceful`, at once. Waits for the close until
 * `deadlineMonoMs`; returns how many written lines the server did not confirm (all of them unless a
 * graceful close completed in time). The socket is destroyed either way, after `beforeDestroy`.
 */
export async function closeTcpLine(line: TcpLine, graceful: boolean, deadlineMonoMs: number, clock: Clock, beforeDestroy?: () => void): Promise<number> {
  if (line.socket.destroyed) return 0;
  const closed = new Promise<boolean>((resolve) => line.socket.once('close', () => resolve(true)));
  line.endedByUs = true;
  if (graceful) line.socket.end();
  else line.socket.destroy();
  const confirmed = graceful && (await withDeadline(clock, closed, deadlineMonoMs - clock.now(), false)) === true;
  line.open = false;
  beforeDestroy?.();
  const unconfirmed = confirmed ? 0 : line.linesWritten;
  line.linesWritten = 0;
  line.socket.destroy();
  return unconfirmed;
}

/** What a reconnecting TCP link needs. */
export interface TcpLinkOptions<E extends object> {
  host: string;
  port: number;
  clock: Clock;
  logger: Logger;
  resolver: HostResolver;
  /** `statsd` or `graphite`, for the lost-lines warning. */
  kind: string;
  /** The destination's key, for warnings. */
  destination: string;
  warnError(err: unknown): void;
  /** A connection that lived this long before failing starts the backoff over; without it, every connect does. */
  resetBackoffAfterMs?: number;
  /** The caller's own fields for each new connection. */
  extra(): E;
  /** Connected (and not shutting down): mark nothing, send what waits; `line.open` is already true. */
  onOpen(line: TcpLine & E): void;
}

/**
 * One TCP connection to a line server, kept up: the host resolved (again after a failure), a
 * connection opened, and after a failure or a loss a new one after the backoff. Lines written on a
 * lost connection are counted as unconfirmed and warned about.
 */
export class TcpLink<E extends object> {
  #o: TcpLinkOptions<E>;
  #backoff: Backoff;
  #lost: LostLines;
  #line: (TcpLine & E) | undefined;
  #resolving = false;
  #resolved = false;
  #shutDown = false;
  /** Lines handed to a connection that then closed without confirming them. */
  unconfirmedLines = 0;

  constructor(options: TcpLinkOptions<E>) {
    this.#o = options;
    this.#backoff = new Backoff(options.clock, options.resetBackoffAfterMs);
    this.#lost = new LostLines(options.clock, options.logger, options.kind, options.destination);
  }

  /** The current connection (connecting, open, or closing); undefined between connections. */
  get line(): (TcpLine & E) | undefined {
    return this.#line;
  }
  /** True while the host name is being resolved for the next connection. */
  get resolving(): boolean {
    return this.#resolving;
  }
  /** True once the host name has resolved. */
  get resolved(): boolean {
    return this.#resolved;
  }

  /** Resolves the host and opens a connection, unless one exists or is on its way. */
  connect(): void {
    if (this.#line || this.#resolving || this.#shutDown) return;
    this.#resolving = true;
    void resolveHost(this.#o.resolver, this.#o.host).then((resolved) => {
      this.#resolving = false;
      if (this.#shutDown || this.#line) return;
      if (!resolved.ok) {
        if (resolved.error !== undefined) this.#o.warnError(resolved.error);
        this.#retry();
        return;
      }
      this.#resolved = true;
      this.#open(resolved.address);
    });
  }

  /** At stop, with lines waiting and no connection: do not sit out a backoff, try once more now. */
  retryNow(): void {
    if (this.#line || this.#resolving) return;
    this.#backoff.cancel();
    this.#backoff.reset();
    this.connect();
  }

  /** No more connections or retries. */
  shutDown(): void {
    this.#shutDown = true;
    this.#backoff.cancel();
  }

  /** Ends the connection at stop (see `closeTcpLine`), counting what the server did not confirm. */
  async end(graceful: (line: TcpLine & E) => boolean, deadlineMonoMs: number, beforeDestroy?: (line: TcpLine & E) => void): Promise<void> {
    this.shutDown();
    const line = this.#line;
    if (!line || line.socket.destroyed) return;
    this.unconfirmedLines += await closeTcpLine(line, graceful(line), deadlineMonoMs, this.#o.clock, () => beforeDestroy?.(line));
  }

  #open(address: string): void {
    const { clock } = this.#o;
    try {
      this.#line = openTcpLine(
        {
          address,
          port: this.#o.port,
          clock,
          onConnect: (line) => {
            if (this.#shutDown) return;
            line.open = true;
            if (this.#o.resetBackoffAfterMs === undefined) this.#backoff.reset();
            this.#o.onOpen(line);
          },
          onError: (err) => this.#o.warnError(err),
          onClose: (line) => {
            if (this.#line !== line) return;
            this.#line = undefined;
            this.unconfirmedLines += this.#lost.closed(line);
            this.#retry(line.createdMono);
          },
        },
        this.#o.extra(),
      );
    } catch (err) {
      this.#o.warnError(err);
      this.#retry();
    }
  }

  #retry(sinceMono?: number): void {
    if (!this.#shutDown) this.#backoff.schedule(() => this.connect(), sinceMono);
  }
}
