/**
 * The Graphite sink: per-interval figures sent as plaintext lines (`path value timestamp\n`) over
 * one TCP connection, with a bounded queue that drops its oldest lines while the server is away.
 */
import { withDeadline, type Cancel, type Clock } from '../clock.js';
import { destinationKey, type Destination } from './destination.js';
import type { Logger } from '../log.js';
import { createIntervalFlusher, type IntervalFlusher } from './interval-flusher.js';
import { createIntervalAggregator, DEFAULT_INTERVAL_MS, type IntervalAggregator } from './intervals.js';
import { agentMetricName, graphiteIntervalPoints } from './names.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import type { AgentCounter, MetricEvent } from '../events.js';
import type { MetricSink } from './sink.js';
import { TcpLink } from './tcp-link.js';
import { createErrorWarner, DroppedLines, IdleWaiters, LineQueue, STALLED_AFTER_MS } from './transport.js';

/** Default bound on lines waiting for the server. */
export const DEFAULT_GRAPHITE_QUEUE_LIMIT = 100_000;
/** Most lines handed to the socket in one write. */
const LINES_PER_WRITE = 1_000;
/** Test intervals turned into lines per event-loop turn at a boundary (25 lines each). */
export const ENQUEUE_SLICE_TESTS = 25;

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

class GraphiteSinkImpl implements GraphiteSink {
  readonly name: string;
  #prefix: string;
  #clock: Clock;
  #logger: Logger;
  #resolver: HostResolver;
  #ownResolver: boolean;
  #aggregator: IntervalAggregator;
  #flusher: IntervalFlusher;
  #queue: LineQueue;
  #link: TcpLink<object>;
  /** The batch handed to the socket and not yet acknowledged by its write callback. */
  #inFlight: string[] | undefined;
  /** When `#inFlight` was handed to the socket (monotonic ms). */
  #inFlightSinceMono = 0;
  /** The next batch's write, deferred to a later turn of the event loop so nothing loops synchronously. */
  #pumpSoon: Cancel | undefined;
  /** The next slice of a boundary's intervals (see #enqueueInSlices). */
  #slice: Cancel | undefined;
  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopping = false;
  /** Set once `stop` is closing the connection: no more writes, no more reconnects. */
  #closing = false;
  #idle = new IdleWaiters(() => this.queuedLines === 0);
  #dropped: DroppedLines;
  #warnError: (err: unknown) => void;

  constructor(options: GraphiteSinkOptions) {
    const queueLimit = options.queueLimit ?? DEFAULT_GRAPHITE_QUEUE_LIMIT;
    if (!Number.isInteger(queueLimit) || queueLimit < 1) {
      throw new TypeError(`Expected \`queueLimit\` to be a positive integer, got ${queueLimit}`);
    }
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#prefix = options.prefix;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#ownResolver = options.resolver === undefined;
    this.#resolver = options.resolver ?? createHostResolver({ clock: this.#clock });
    this.name = destinationKey(options.destination);
    this.#aggregator = createIntervalAggregator({ intervalMs });
    this.#flusher = createIntervalFlusher({
      clock: this.#clock,
      intervalMs,
      // Starts are multiples of intervalMs, so `start < boundary` means the interval has ended.
      onBoundary: (boundary) => this.#enqueueInSlices(boundary),
    });
    this.#queue = new LineQueue(queueLimit);
    this.#dropped = new DroppedLines(this.#clock, this.#logger, 'graphite queue full, dropped the oldest lines', this.name);
    this.#warnError = createErrorWarner({
      clock: this.#clock,
      logger: this.#logger,
      message: 'graphite connection failed',
      where: 'graphite socket',
      destination: this.name,
      fields: () => ({ queued: this.queuedLines }),
    });
    this.#link = new TcpLink({
      host: options.destination.host,
      port: options.destination.port,
      clock: this.#clock,
      logger: this.#logger,
      resolver: this.#resolver,
      kind: 'graphite',
      destination: this.name,
      warnError: this.#warnError,
      extra: () => ({}),
      onOpen: () => this.#pump(),
    });
  }

  get droppedLines(): number {
    return this.#dropped.total;
  }
  get queuedLines(): number {
    return this.#queue.length + (this.#inFlight?.length ?? 0);
  }
  get unconfirmedLines(): number {
    return this.#link.unconfirmedLines;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    this.#flusher.start();
    this.#link.connect();
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
      this.#slice?.();
      this.#slice = undefined;
      this.#enqueueDirty(undefined);
      if (this.queuedLines > 0 && !this.#stalled()) {
        // Do not sit out a backoff: try once more now, and keep retrying until the deadline.
        this.#link.retryNow();
        await withDeadline(this.#clock, this.#idle.wait(), deadlineMonoMs - this.#clock.now());
      }
      this.#closing = true;
      this.#link.shutDown();
      this.#pumpSoon?.();
      if (this.#ownResolver) this.#resolver.cancel();
      // Graceful only when nothing is in flight; a close we force confirms nothing. What the server
      // never read up to our FIN may still sit in a kernel buffer.
      await this.#link.end((conn) => conn.open && this.#inFlight === undefined, deadlineMonoMs);
      this.#reportAtStop();
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** True when the server has not taken a batch for `STALLED_AFTER_MS`: waiting for it at stop is futile. */
  #stalled(): boolean {
    return this.#inFlight !== undefined && this.#link.line?.open === true && this.#clock.now() - this.#inFlightSinceMono >= STALLED_AFTER_MS;
  }

  #reportAtStop(): void {
    const unsent = this.queuedLines;
    if (unsent > 0) {
      this.#logger.warn('graphite lines not sent before the stop deadline', { destination: this.name, lines: unsent });
    }
    if (this.unconfirmedLines > 0) {
      this.#logger.warn('graphite lines may not have been delivered: the server did not confirm the close', {
        destination: this.name,
        lines: this.unconfirmedLines,
      });
    }
    if (this.#dropped.total > 0) {
      this.#logger.warn('graphite lines dropped during the run (queue full)', { destination: this.name, total_dropped: this.#dropped.total });
    }
  }

  /**
   * Queues a boundary's intervals ENQUEUE_SLICE_TESTS at a time, an event-loop turn apart: 2,000 tests'
   * points (50,000 lines) took ~60 ms in one piece, and every tick due meanwhile was late.
   */
  #enqueueInSlices(boundary: number): void {
    this.#slice?.();
    this.#slice = undefined;
    if (!this.#enqueueDirty(boundary, ENQUEUE_SLICE_TESTS) && !this.#closing) this.#slice = this.#clock.soon(() => this.#enqueueInSlices(boundary));
  }

  /**
   * Turns the dirty intervals starting before `before` (all when undefined; at most `limit` test
   * intervals) into queued lines; true when none is left.
   */
  #enqueueDirty(before: number | undefined, limit = Infinity): boolean {
    let done = true;
    try {
      const lines: string[] = [];
      const taken = this.#aggregator.takeDirty(before, limit);
      done = taken.length < limit;
      for (const s of taken) {
        const ts = toSeconds(s.startWallMs);
        for (const p of graphiteIntervalPoints(this.#prefix, s)) lines.push(formatLine(p.path, p.value, ts));
      }
      for (const a of this.#aggregator.takeDirtyAgent(before)) {
        lines.push(formatLine(agentMetricName(this.#prefix, a.name), a.value, toSeconds(a.startWallMs)));
      }
      if (lines.length > 0) {
        this.#dropped.add(this.#queue.push(lines));
        this.#pump();
      }
    } catch (err) {
      this.#warnError(err);
    }
    return done;
  }

  /**
   * Writes one batch at a time, only on an open connection; the next goes once the socket has taken
   * the previous one. A failed write puts its batch back and waits for `close` (and a reconnect):
   * it never writes again on that connection.
   */
  #pump(): void {
    const conn = this.#link.line;
    if (!conn || !conn.open || this.#inFlight || this.#closing) return;
    if (conn.socket.destroyed || conn.socket.writableEnded) {
      conn.open = false;
      return;
    }
    const batch = this.#queue.shift(LINES_PER_WRITE);
    if (batch.length === 0) {
      this.#idle.settle();
      return;
    }
    this.#inFlight = batch;
    this.#inFlightSinceMono = this.#clock.now();
    conn.socket.write(batch.join(''), (err) => {
      if (this.#inFlight === batch) this.#inFlight = undefined;
      if (err) {
        conn.open = false;
        // Not written: put it back in front. A re-sent line is harmless, Graphite keeps the last value.
        this.#dropped.add(this.#queue.unshift(batch));
        conn.socket.destroy();
        return;
      }
      conn.linesWritten += batch.length;
      this.#idle.settle();
      this.#pumpSoon ??= this.#clock.soon(() => {
        this.#pumpSoon = undefined;
        this.#pump();
      });
    });
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
