/**
 * The Graphite sink: per-interval figures sent as plaintext lines (`path value timestamp\n`) over
 * one TCP connection, with a bounded queue that drops its oldest lines while the server is away.
 */
import net from 'node:net';
import type { Clock } from '../clock.js';
import { destinationKey, type Destination } from './destination.js';
import { fdLimitCode, limitHit } from '../limits.js';
import type { Logger } from '../log.js';
import { createIntervalFlusher, type IntervalFlusher } from './interval-flusher.js';
import { createIntervalAggregator, DEFAULT_INTERVAL_MS, type IntervalAggregator } from './intervals.js';
import { agentMetricName, graphiteIntervalPoints } from './names.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import type { AgentCounter, MetricEvent } from '../events.js';
import type { MetricSink } from './sink.js';

/** Default bound on lines waiting for the server. */
export const DEFAULT_GRAPHITE_QUEUE_LIMIT = 100_000;
/** Least time between two warnings of one kind, ms. */
const WARN_EVERY_MS = 10_000;
/** First and largest wait between connection attempts, ms. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** A connection attempt that has not succeeded by then is abandoned, ms. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Most lines handed to the socket in one write. */
const LINES_PER_WRITE = 1_000;
/** A batch the socket has not taken for this long means the server is not reading: a stop does not wait for it, ms. */
const STALLED_AFTER_MS = 1_000;

export interface GraphiteSinkOptions {
  /** Where to send. IPv6 hosts are given bare (`::1`). */
  destination: Extract<Destination, { kind: 'graphite' }>;
  /** Expanded prefix (no `{host}`), e.g. `canihaz.web-1`. */
  prefix: string;
  /** Wall clock for interval boundaries, monotonic clock for `stop`'s deadline and warning rate limits. */
  clock: Clock;
  /** Receives rate-limited warnings (connection errors, dropped lines). */
  logger: Logger;
  /** Interval length, ms. Default 10 000. Keep it a multiple of 1 000: timestamps are whole seconds. */
  intervalMs?: number;
  /** Most lines held while the server is down or slow; beyond it the oldest are dropped. Default 100 000. */
  queueLimit?: number;
  /** Resolves the host once (shared by the run's sinks). Default: a private resolver, cancelled at stop. */
  resolver?: HostResolver;
}

/** A Graphite sink, with counters for tests and logs. */
export interface GraphiteSink extends MetricSink {
  /** Lines dropped (oldest first) because the queue was full. */
  readonly droppedLines: number;
  /** Lines waiting to be written. */
  readonly queuedLines: number;
  /**
   * Lines handed to a connection that then closed without confirming it (an unexpected loss, or a
   * stop whose close handshake did not complete in time): they may not have been delivered.
   */
  readonly unconfirmedLines: number;
}

/**
 * Creates a Graphite sink. Every `intervalMs`, on the wall-clock boundary, it sends the intervals that
 * have ended and changed since last sent, stamped with the interval start; a late completion makes an
 * interval change again and it is re-sent with its final figures (Graphite keeps the last value per
 * path and timestamp). `stop` also sends the current, partial interval.
 */
export function createGraphiteSink(options: GraphiteSinkOptions): GraphiteSink {
  return new GraphiteSinkImpl(options);
}

/** One TCP connection and what was handed to it. */
interface Connection {
  socket: net.Socket;
  /** True between `connect` and the first sign of trouble; only then is it written to. */
  writable: boolean;
  /** Lines whose write callback succeeded on this connection. */
  linesWritten: number;
  /** Set by `stop` when it ends the connection itself. */
  endedByUs: boolean;
}

class GraphiteSinkImpl implements GraphiteSink {
  readonly name: string;
  #host: string;
  #port: number;
  #prefix: string;
  #clock: Clock;
  #logger: Logger;
  #resolver: HostResolver;
  #ownResolver: boolean;
  #aggregator: IntervalAggregator;
  #flusher: IntervalFlusher;
  #queue: LineQueue;
  /** The current connection (connecting, open, or closing); undefined between connections. */
  #conn: Connection | undefined;
  /** True while the host name is being resolved for the next connection. */
  #resolving = false;
  /** The batch handed to the socket and not yet acknowledged by its write callback. */
  #inFlight: string[] | undefined;
  /** When `#inFlight` was handed to the socket (monotonic ms). */
  #inFlightSinceMono = 0;
  /** The next batch's write, deferred to a later turn of the event loop so nothing loops synchronously. */
  #pumpImmediate: NodeJS.Immediate | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_MIN_MS;
  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopping = false;
  /** Set once `stop` is closing the connection: no more writes, no more reconnects. */
  #closing = false;
  #idleWaiters: (() => void)[] = [];
  #droppedLines = 0;
  #droppedSinceWarn = 0;
  #unconfirmedLines = 0;
  #lostSinceWarn = 0;
  #lastLostWarnMono = -Infinity;
  #lastDropWarnMono = -Infinity;
  #lastErrorWarnMono = -Infinity;

  constructor(options: GraphiteSinkOptions) {
    const queueLimit = options.queueLimit ?? DEFAULT_GRAPHITE_QUEUE_LIMIT;
    if (!Number.isInteger(queueLimit) || queueLimit < 1) {
      throw new TypeError(`Expected \`queueLimit\` to be a positive integer, got ${queueLimit}`);
    }
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#host = options.destination.host;
    this.#port = options.destination.port;
    this.#prefix = options.prefix;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#ownResolver = options.resolver === undefined;
    this.#resolver = options.resolver ?? createHostResolver();
    this.name = destinationKey(options.destination);
    this.#aggregator = createIntervalAggregator({ intervalMs });
    this.#flusher = createIntervalFlusher({
      clock: this.#clock,
      intervalMs,
      // Starts are multiples of intervalMs, so `start < boundary` means the interval has ended.
      onBoundary: (boundary) => this.#enqueueDirty(boundary),
    });
    this.#queue = new LineQueue(queueLimit);
  }

  get droppedLines(): number {
    return this.#droppedLines;
  }
  get queuedLines(): number {
    return this.#queue.length + (this.#inFlight?.length ?? 0);
  }
  get unconfirmedLines(): number {
    return this.#unconfirmedLines;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    this.#flusher.start();
    this.#connect();
  }

  record(event: MetricEvent): void {
    if (this.#stopping) return;
    try {
      this.#aggregator.add(event);
    } catch (err) {
      this.#warnError(err);
    }
  }

  recordAgent(counter: AgentCounter): void {
    if (this.#stopping) return;
    try {
      this.#aggregator.addAgent(counter, this.#clock.wallNow());
    } catch (err) {
      this.#warnError(err);
    }
  }

  /**
   * Sends what is left, then ends the connection and waits for the server to close its side (the
   * only sign that it read everything); all of it bounded by `deadlineMonoMs`. Whatever could not be
   * confirmed is counted in one warning.
   */
  async stop(deadlineMonoMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    try {
      this.#flusher.stop();
      this.#enqueueDirty(undefined);
      if (this.queuedLines > 0 && !this.#stalled()) {
        if (!this.#conn && !this.#resolving) {
          // Do not sit out a backoff: try once more now, and keep retrying until the deadline.
          clearTimeout(this.#reconnectTimer);
          this.#reconnectTimer = undefined;
          this.#backoffMs = RECONNECT_MIN_MS;
          this.#connect();
        }
        await withDeadline(new Promise<void>((resolve) => this.#whenIdle(resolve)), this.#remaining(deadlineMonoMs));
      }
      this.#closing = true;
      clearTimeout(this.#reconnectTimer);
      clearImmediate(this.#pumpImmediate);
      if (this.#ownResolver) this.#resolver.cancel();
      const conn = this.#conn;
      if (conn && !conn.socket.destroyed) {
        const closed = new Promise<boolean>((resolve) => conn.socket.once('close', () => resolve(true)));
        conn.endedByUs = true;
        // Graceful when nothing is in flight: FIN after what the socket holds; the server closes its
        // side once it has read it all. A close we force confirms nothing.
        const graceful = conn.writable && this.#inFlight === undefined;
        if (graceful) conn.socket.end();
        else conn.socket.destroy();
        const confirmed = graceful && (await withDeadline(closed, this.#remaining(deadlineMonoMs), false)) === true;
        if (!confirmed) {
          conn.writable = false;
          conn.socket.destroy();
          // Written, but the server never read up to our FIN: they may still sit in a kernel buffer.
          this.#unconfirmedLines += conn.linesWritten;
          conn.linesWritten = 0;
        }
      }
      this.#reportAtStop();
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** True when the server has not taken a batch for `STALLED_AFTER_MS`: waiting for it at stop is futile. */
  #stalled(): boolean {
    return this.#inFlight !== undefined && this.#conn?.writable === true && this.#clock.now() - this.#inFlightSinceMono >= STALLED_AFTER_MS;
  }

  #reportAtStop(): void {
    const unsent = this.queuedLines;
    if (unsent > 0) {
      this.#logger.warn('graphite lines not sent before the stop deadline', { destination: this.name, lines: unsent });
    }
    if (this.#unconfirmedLines > 0) {
      this.#logger.warn('graphite lines may not have been delivered: the server did not confirm the close', {
        destination: this.name,
        lines: this.#unconfirmedLines,
      });
    }
    if (this.#droppedLines > 0) {
      this.#logger.warn('graphite lines dropped during the run (queue full)', { destination: this.name, total_dropped: this.#droppedLines });
    }
  }

  #remaining(deadlineMonoMs: number): number {
    return deadlineMonoMs - this.#clock.now();
  }

  /** Turns the dirty intervals starting before `before` (all when undefined) into queued lines. */
  #enqueueDirty(before: number | undefined): void {
    try {
      const lines: string[] = [];
      for (const s of this.#aggregator.takeDirty(before)) {
        const ts = toSeconds(s.startWallMs);
        for (const p of graphiteIntervalPoints(this.#prefix, s)) lines.push(formatLine(p.path, p.value, ts));
      }
      for (const a of this.#aggregator.takeDirtyAgent(before)) {
        lines.push(formatLine(agentMetricName(this.#prefix, a.name), a.value, toSeconds(a.startWallMs)));
      }
      if (lines.length === 0) return;
      this.#noteDropped(this.#queue.push(lines));
      this.#pump();
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** Resolves the host (once per run; again after a failure) and opens a connection. */
  #connect(): void {
    if (this.#conn || this.#resolving || this.#closing) return;
    this.#resolving = true;
    this.#resolver.resolve(this.#host).then(
      (resolved) => {
        this.#resolving = false;
        if (this.#closing || this.#conn) return;
        if (!resolved.ok) {
          if (resolved.code !== 'ECANCELLED') this.#warnError(Object.assign(new Error(`cannot resolve ${this.#host}: ${resolved.message}`), { code: resolved.code }));
          this.#scheduleReconnect();
          return;
        }
        this.#open(resolved.address);
      },
      (err: unknown) => {
        this.#resolving = false;
        this.#warnError(err);
        this.#scheduleReconnect();
      },
    );
  }

  #open(address: string): void {
    let socket: net.Socket;
    try {
      socket = net.connect({ host: address, port: this.#port });
    } catch (err) {
      this.#warnError(err);
      this.#scheduleReconnect();
      return;
    }
    const conn: Connection = { socket, writable: false, linesWritten: 0, endedByUs: false };
    this.#conn = conn;
    socket.unref();
    socket.setKeepAlive(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    socket.on('connect', () => {
      socket.setTimeout(0);
      if (this.#closing) return;
      conn.writable = true;
      this.#backoffMs = RECONNECT_MIN_MS;
      this.#pump();
    });
    // Graphite never answers; read and discard anything it sends so the socket can close cleanly.
    socket.on('data', () => undefined);
    // The server closed its side: write no more on this connection (the close follows).
    socket.on('end', () => (conn.writable = false));
    socket.on('error', (err) => {
      conn.writable = false;
      this.#warnError(err);
    });
    socket.on('close', () => {
      conn.writable = false;
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      if (!conn.endedByUs && conn.linesWritten > 0) {
        // Plaintext has no acknowledgements: what was written shortly before the loss may be gone.
        this.#unconfirmedLines += conn.linesWritten;
        this.#lostSinceWarn += conn.linesWritten;
        const now = this.#clock.now();
        if (now - this.#lastLostWarnMono >= WARN_EVERY_MS) {
          this.#logger.warn('graphite connection lost: lines written on it may not have been delivered', {
            destination: this.name,
            lines: this.#lostSinceWarn,
          });
          this.#lastLostWarnMono = now;
          this.#lostSinceWarn = 0;
        }
      }
      conn.linesWritten = 0;
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closing || this.#reconnectTimer) return;
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RECONNECT_MAX_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, wait);
    this.#reconnectTimer.unref();
  }

  /**
   * Writes one batch at a time, only on an open connection; the next goes once the socket has taken
   * the previous one. A failed write puts its batch back and waits for `close` (and a reconnect):
   * it never writes again on that connection.
   */
  #pump(): void {
    const conn = this.#conn;
    if (!conn || !conn.writable || this.#inFlight || this.#closing) return;
    if (conn.socket.destroyed || conn.socket.writableEnded) {
      conn.writable = false;
      return;
    }
    const batch = this.#queue.shift(LINES_PER_WRITE);
    if (batch.length === 0) {
      this.#settleIdle();
      return;
    }
    this.#inFlight = batch;
    this.#inFlightSinceMono = this.#clock.now();
    conn.socket.write(batch.join(''), (err) => {
      if (this.#inFlight === batch) this.#inFlight = undefined;
      if (err) {
        conn.writable = false;
        // Not written: put it back in front. A re-sent line is harmless, Graphite keeps the last value.
        this.#noteDropped(this.#queue.unshift(batch));
        conn.socket.destroy();
        return;
      }
      conn.linesWritten += batch.length;
      this.#settleIdle();
      this.#pumpImmediate ??= setImmediate(() => {
        this.#pumpImmediate = undefined;
        this.#pump();
      });
    });
  }

  #whenIdle(resolve: () => void): void {
    this.#idleWaiters.push(resolve);
    this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.queuedLines > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #noteDropped(n: number): void {
    if (n === 0) return;
    this.#droppedLines += n;
    this.#droppedSinceWarn += n;
    const now = this.#clock.now();
    if (now - this.#lastDropWarnMono < WARN_EVERY_MS) return;
    this.#logger.warn('graphite queue full, dropped the oldest lines', {
      destination: this.name,
      dropped: this.#droppedSinceWarn,
      total_dropped: this.#droppedLines,
    });
    this.#lastDropWarnMono = now;
    this.#droppedSinceWarn = 0;
  }

  #warnError(err: unknown): void {
    const code = fdLimitCode(err);
    if (code) limitHit(code, { where: 'graphite socket', destination: this.name });
    try {
      const now = this.#clock.now();
      if (now - this.#lastErrorWarnMono < WARN_EVERY_MS) return;
      const e = err as { message?: unknown; code?: unknown } | undefined;
      this.#logger.warn('graphite connection failed', {
        destination: this.name,
        error: String(e?.message ?? err),
        code: typeof e?.code === 'string' ? e.code : undefined,
        queued: this.queuedLines,
      });
      this.#lastErrorWarnMono = now;
    } catch {
      // Reporting must never take the agent down.
    }
  }
}

/** A FIFO of lines with a length bound that drops from the front (the oldest) when exceeded. */
class LineQueue {
  #items: string[] = [];
  #head = 0;
  #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends lines; returns how many of the oldest were dropped to stay within the limit. */
  push(lines: readonly string[]): number {
    for (const line of lines) this.#items.push(line);
    return this.#trim();
  }

  /** Puts lines back in front (they are the oldest); returns how many were dropped. */
  unshift(lines: readonly string[]): number {
    this.#items = [...lines, ...this.#items.slice(this.#head)];
    this.#head = 0;
    return this.#trim();
  }

  /** Removes and returns up to `n` lines from the front. */
  shift(n: number): string[] {
    const out = this.#items.slice(this.#head, this.#head + n);
    this.#head += out.length;
    this.#compact();
    return out;
  }

  #trim(): number {
    const over = Math.max(0, this.length - this.#limit);
    this.#head += over;
    this.#compact();
    return over;
  }

  /** Reclaims the space before `#head` once it is most of the array. */
  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

function toSeconds(wallMs: number): number {
  return Math.floor(wallMs / 1000);
}

/** One plaintext-protocol line; values are rounded to 3 decimals. */
function formatLine(path: string, value: number, timestampSec: number): string {
  const v = Number.isFinite(value) ? Math.round(value * 1000) / 1000 : 0;
  return `${path} ${v} ${timestampSec}\n`;
}

/**
 * Waits for `promise` or `ms`, whichever is first; resolves with the promise's value, or `onTimeout`.
 * The timer is deliberately not unref'd: it is bounded, and it keeps the process alive while a caller
 * awaits the final flush.
 */
async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout?: T): Promise<T | undefined> {
  if (ms <= 0) return onTimeout;
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([promise, new Promise<T | undefined>((resolve) => (timer = setTimeout(() => resolve(onTimeout), ms)))]);
  clearTimeout(timer);
  return result;
}
