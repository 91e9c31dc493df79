/**
 * The Graphite sink: per-interval figures sent as plaintext lines (`path value timestamp\n`) over
 * one TCP connection, with a bounded queue that drops its oldest lines while the server is away.
 */
import net from 'node:net';
import type { Clock } from '../clock.js';
import { destinationKey, type Destination } from '../config/destination.js';
import type { Logger } from '../log.js';
import { createIntervalAggregator, createIntervalFlusher, DEFAULT_INTERVAL_MS, type IntervalAggregator, type IntervalFlusher } from './intervals.js';
import { graphiteAgentPath, graphiteIntervalPoints } from './names.js';
import type { AgentCounter, MetricEvent, MetricSink } from './sink.js';

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
}

/** A Graphite sink, with counters for tests and logs. */
export interface GraphiteSink extends MetricSink {
  /** Lines dropped (oldest first) because the queue was full. */
  readonly droppedLines: number;
  /** Lines waiting to be written. */
  readonly queuedLines: number;
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

class GraphiteSinkImpl implements GraphiteSink {
  readonly name: string;
  #host: string;
  #port: number;
  #prefix: string;
  #clock: Clock;
  #logger: Logger;
  #aggregator: IntervalAggregator;
  #flusher: IntervalFlusher;
  #queue: LineQueue;
  #socket: net.Socket | undefined;
  #connected = false;
  /** The batch handed to the socket and not yet acknowledged by its write callback. */
  #inFlight: string[] | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_MIN_MS;
  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopping = false;
  /** Set once `stop` is closing the connection: no more reconnects. */
  #closing = false;
  #idleWaiters: (() => void)[] = [];
  #droppedLines = 0;
  #droppedSinceWarn = 0;
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

  async stop(deadlineMonoMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#flusher.stop();
    this.#enqueueDirty(undefined);
    if (this.queuedLines > 0) {
      if (!this.#socket) {
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
    const socket = this.#socket;
    if (socket) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end();
      await withDeadline(closed, this.#remaining(deadlineMonoMs));
      socket.destroy();
    }
    if (this.queuedLines > 0) {
      this.#logger.warn('graphite lines not sent before the stop deadline', { destination: this.name, lines: this.queuedLines });
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
        lines.push(formatLine(graphiteAgentPath(this.#prefix, a.name), a.value, toSeconds(a.startWallMs)));
      }
      if (lines.length === 0) return;
      this.#noteDropped(this.#queue.push(lines));
      this.#pump();
    } catch (err) {
      this.#warnError(err);
    }
  }

  #connect(): void {
    if (this.#socket || this.#closing) return;
    let socket: net.Socket;
    try {
      socket = net.connect({ host: this.#host, port: this.#port });
    } catch (err) {
      this.#warnError(err);
      return;
    }
    this.#socket = socket;
    socket.unref();
    socket.setKeepAlive(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    socket.on('connect', () => {
      socket.setTimeout(0);
      this.#connected = true;
      this.#backoffMs = RECONNECT_MIN_MS;
      this.#pump();
    });
    // Graphite never answers; read and discard anything it sends so the socket can close cleanly.
    socket.on('data', () => undefined);
    socket.on('error', (err) => this.#warnError(err));
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#connected = false;
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

  /** Writes one batch at a time; the next goes once the socket has taken the previous one. */
  #pump(): void {
    const socket = this.#socket;
    if (!socket || !this.#connected || this.#inFlight) return;
    const batch = this.#queue.shift(LINES_PER_WRITE);
    if (batch.length === 0) {
      this.#settleIdle();
      return;
    }
    this.#inFlight = batch;
    socket.write(batch.join(''), (err) => {
      this.#inFlight = undefined;
      // Not written: put it back in front. A re-sent line is harmless, Graphite keeps the last value.
      if (err) this.#noteDropped(this.#queue.unshift(batch));
      this.#pump();
      this.#settleIdle();
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
 * Waits for `promise` or `ms`, whichever is first. The timer is deliberately not unref'd: it is
 * bounded, and it keeps the process alive while a caller awaits the final flush.
 */
async function withDeadline(promise: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
