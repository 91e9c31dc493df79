/**
 * The StatsD sink: every event becomes counters and timers sent through hot-shots, batched into
 * packets of at most `STATSD_MAX_BUFFER_BYTES` and flushed every `STATSD_FLUSH_INTERVAL_MS`.
 */
import { StatsD } from 'hot-shots';
import { systemClock, type Clock } from '../clock.js';
import { destinationKey, type Destination } from '../config/destination.js';
import type { Logger } from '../log.js';
import { statsdAgentName, statsdTestNames, type StatsdTestNames } from './names.js';
import type { AgentCounter, MetricEvent, MetricSink } from './sink.js';

/** Largest batch hot-shots builds before sending, bytes: one UDP datagram fits a 1500-byte MTU. */
export const STATSD_MAX_BUFFER_BYTES = 1400;
/** How often a partial batch is sent, ms. */
export const STATSD_FLUSH_INTERVAL_MS = 200;
/** Least time between two warnings about send errors, ms. */
const WARN_EVERY_MS = 10_000;
/** First and largest wait before replacing a broken TCP connection, ms. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** A TCP connection that lived this long before failing starts the backoff over, ms. */
const RECONNECT_RESET_AFTER_MS = 10_000;

export interface StatsdSinkOptions {
  /** Where to send. */
  destination: Extract<Destination, { kind: 'statsd' }>;
  /** Expanded prefix (no `{host}`), e.g. `canihaz`. */
  prefix: string;
  /** Receives rate-limited warnings about send errors. */
  logger: Logger;
  /** Monotonic time for `stop`'s deadline and warning rate limits. Default: the system clock. */
  clock?: Clock;
}

/**
 * Creates a StatsD sink. Events sent before `start()` are fine (the client is created on first use).
 * Over TCP a refused or broken connection is replaced with backoff; what is sent while it is down is lost,
 * as with UDP.
 */
export function createStatsdSink(options: StatsdSinkOptions): MetricSink {
  return new StatsdSink(options);
}

class StatsdSink implements MetricSink {
  readonly name: string;
  #destination: StatsdSinkOptions['destination'];
  #prefix: string;
  #logger: Logger;
  #clock: Clock;
  #client: StatsD | undefined;
  /** True once the current TCP client reported an error: hot-shots never revives such a socket itself. */
  #broken = false;
  #createdMono = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_MIN_MS;
  #stopped = false;
  #lastWarnMono = -Infinity;
  #suppressed = 0;
  #names = new Map<string, StatsdTestNames>();

  constructor(options: StatsdSinkOptions) {
    this.#destination = options.destination;
    this.#prefix = options.prefix;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.name = destinationKey(options.destination);
  }

  async start(): Promise<void> {
    if (!this.#stopped) this.#ensureClient();
  }

  record(event: MetricEvent): void {
    const client = this.#ensureClient();
    if (!client) return;
    const names = this.#namesOf(event.test);
    try {
      switch (event.kind) {
        case 'execution':
          if (event.ok) {
            client.increment(names.ok, 1);
          } else {
            client.increment(names.failed, 1);
            client.increment(names.failedReason(event.reason ?? 'unknown'), 1);
          }
          client.timing(names.latency, roundMs(event.latencyMs));
          client.timing(names.lag, roundMs(event.lagMs));
          break;
        case 'dropped':
          client.increment(names.dropped, 1);
          break;
        case 'missed':
          if (event.count > 0) client.increment(names.missed, event.count);
          break;
        case 'aborted':
          client.increment(names.aborted, 1);
          break;
      }
    } catch (err) {
      this.#onError(err, client);
    }
  }

  recordAgent(counter: AgentCounter): void {
    const client = this.#ensureClient();
    if (!client || counter.value === 0) return;
    try {
      client.increment(statsdAgentName(this.#prefix, counter.name), counter.value);
    } catch (err) {
      this.#onError(err, client);
    }
  }

  async stop(deadlineMonoMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    // hot-shots' close() never calls back for a TCP socket that is already destroyed, so do not
    // wait on one known to be broken; otherwise wait for the final flush, but not past the deadline.
    const closed = closeClient(client);
    if (this.#broken) return;
    await raceDeadline(closed, deadlineMonoMs - this.#clock.now());
  }

  #ensureClient(): StatsD | undefined {
    if (this.#stopped) return undefined;
    if (!this.#client) {
      this.#broken = false;
      this.#createdMono = this.#clock.now();
      let client: StatsD | undefined;
      try {
        client = new StatsD({
          host: this.#destination.host,
          port: this.#destination.port,
          protocol: this.#destination.protocol,
          maxBufferSize: STATSD_MAX_BUFFER_BYTES,
          bufferFlushInterval: STATSD_FLUSH_INTERVAL_MS,
          // No cacheDns: hot-shots' cache resolves without the socket's family (`localhost` may give ::1 to a udp4 socket).
          errorHandler: (err) => this.#onError(err, client),
          // Plain StatsD: no tags from DD_* variables, no DogStatsD extensions or telemetry.
          telegraf: false,
          datadog: false,
          includeDataDogTags: false,
          includeDatadogTelemetry: false,
          aggregation: false,
        });
        this.#client = client;
        if (this.#destination.protocol === 'tcp') {
          const created = client;
          // `socket` is typed as dgram's, but for TCP it is the net.Socket's emitter: a connection closed
          // by the server without an error would otherwise go unnoticed until the next send fails.
          (created.socket as { on?: (event: 'close', fn: () => void) => void } | null)?.on?.('close', () => this.#onClosed(created));
        }
      } catch (err) {
        this.#onError(err, undefined);
        return undefined;
      }
    }
    return this.#client;
  }

  #namesOf(test: string): StatsdTestNames {
    let names = this.#names.get(test);
    if (!names) {
      names = statsdTestNames(this.#prefix, test);
      this.#names.set(test, names);
    }
    return names;
  }

  /** hot-shots' errorHandler: warns at most once per `WARN_EVERY_MS`, schedules a TCP reconnect, never throws. */
  #onError(err: unknown, from: StatsD | undefined): void {
    try {
      const now = this.#clock.now();
      if (now - this.#lastWarnMono >= WARN_EVERY_MS) {
        const e = err as { message?: unknown; code?: unknown } | undefined;
        this.#logger.warn('statsd send failed', {
          destination: this.name,
          error: String(e?.message ?? err),
          code: typeof e?.code === 'string' ? e.code : undefined,
          suppressed: this.#suppressed || undefined,
        });
        this.#lastWarnMono = now;
        this.#suppressed = 0;
      } else {
        this.#suppressed += 1;
      }
      // Errors from a client already replaced (its last sends, its close) say nothing about the current one.
      const current = from === undefined || from === this.#client;
      if (this.#destination.protocol === 'tcp' && current && !this.#stopped) {
        this.#broken = true;
        this.#scheduleReconnect(now);
      }
    } catch {
      // Reporting must never take the agent down.
    }
  }

  /** The current TCP connection closed: replace the client (after the backoff) rather than wait for a send to fail. */
  #onClosed(client: StatsD): void {
    if (client !== this.#client || this.#stopped) return;
    this.#logger.debug('statsd connection closed', { destination: this.name });
    this.#broken = true;
    this.#scheduleReconnect(this.#clock.now());
  }

  /**
   * hot-shots only replaces a TCP socket after certain errors and never one refused within its first
   * second, after which every send fails with ERR_SOCKET_DESTROYED; so on any TCP error the whole
   * client is replaced, after a backoff that doubles from 100 ms to 5 s.
   */
  #scheduleReconnect(now: number): void {
    if (this.#reconnectTimer) return;
    if (now - this.#createdMono >= RECONNECT_RESET_AFTER_MS) this.#backoffMs = RECONNECT_MIN_MS;
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RECONNECT_MAX_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#stopped || !this.#broken) return;
      const old = this.#client;
      this.#client = undefined;
      if (old) void closeClient(old);
      this.#ensureClient();
    }, wait);
    this.#reconnectTimer.unref();
  }
}

/** Closes a hot-shots client; resolves when it calls back (which it may never do), never rejects. */
function closeClient(client: StatsD): Promise<void> {
  return new Promise((resolve) => {
    try {
      client.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/**
 * Waits for `promise` or `ms`, whichever is first. The timer is deliberately not unref'd: it is
 * bounded, and it keeps the process alive while a caller awaits the final flush.
 */
async function raceDeadline(promise: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Rounds to the microsecond, which keeps lines short without losing precision that matters. */
function roundMs(ms: number): number {
  return Number.isFinite(ms) ? Math.round(Math.max(0, ms) * 1000) / 1000 : 0;
}
