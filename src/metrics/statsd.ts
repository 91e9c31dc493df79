/**
 * The StatsD sink: every event becomes counter and timer lines (`name:value|c`, `name:value|ms`),
 * batched into packets of at most `STATSD_MAX_BUFFER_BYTES` and flushed every
 * `STATSD_FLUSH_INTERVAL_MS`, over UDP (one datagram per packet) or one TCP connection.
 *
 * Our own small client rather than hot-shots: the host name is resolved once per run (hot-shots
 * looked it up on every UDP send, and a pending getaddrinfo holds process exit), what waits for the
 * server is bounded in bytes with every line beyond counted and logged (hot-shots buffered a TCP
 * server that never reads without bound, silently), and nothing is written to stderr behind the
 * logger's back.
 */
import { systemClock, withDeadline, type Cancel, type Clock } from '../clock.js';
import { destinationKey, type Destination } from './destination.js';
import type { Logger } from '../log.js';
import { agentMetricName, testMetricName } from './names.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import { eventSamples, type AgentCounter, type MetricEvent, type Sample } from '../events.js';
import type { MetricSink } from './sink.js';
import { TcpLink, type TcpLine } from './tcp-link.js';
import { createErrorWarner, IdleWaiters, STALLED_AFTER_MS, WarnLimiter } from './transport.js';
import { UdpLink } from './udp-link.js';

/** Largest packet, bytes: one UDP datagram fits a 1500-byte MTU. */
export const STATSD_MAX_BUFFER_BYTES = 1400;
/** How often a partial packet is sent, ms. */
export const STATSD_FLUSH_INTERVAL_MS = 200;
/**
 * Most bytes held for the server: packets waiting for the address or a connection, plus (TCP) what
 * the socket has not yet handed to the kernel. Beyond it new lines are dropped and counted.
 */
export const STATSD_MAX_PENDING_BYTES = 1024 * 1024;
/** A TCP connection that lived this long before failing starts the backoff over, ms. */
const RECONNECT_RESET_AFTER_MS = 10_000;

export interface StatsdSinkOptions {
  /** Where to send. */
  destination: Extract<Destination, { kind: 'statsd' }>;
  /** Expanded prefix (no `{host}`), e.g. `canihaz`. */
  prefix: string;
  /** Receives rate-limited warnings about send errors and dropped lines. */
  logger: Logger;
  /** Monotonic time for `stop`'s deadline and warning rate limits. Default: the system clock. */
  clock?: Clock;
  /** Resolves the host once (shared by the run's sinks). Default: a private resolver, cancelled at stop. */
  resolver?: HostResolver;
  /** Most bytes held for the server; default `STATSD_MAX_PENDING_BYTES`. */
  maxPendingBytes?: number;
}

/** A StatsD sink, with its drop counter for tests and logs. */
export interface StatsdSink extends MetricSink {
  /** Lines not sent: beyond the pending bound, refused by the socket, or left at the stop deadline. */
  readonly droppedLines: number;
}

/**
 * Creates a StatsD sink. Events recorded before `start()` or before the address is known wait
 * (bounded). Over TCP a refused or broken connection is replaced with backoff, and what waits is sent
 * on the new one; UDP is fire-and-forget.
 */
export function createStatsdSink(options: StatsdSinkOptions): StatsdSink {
  return new StatsdSinkImpl(options);
}

/** One packet's text and how many lines it holds. */
interface Packet {
  text: string;
  lines: number;
}

/** What StatsD tracks on a TCP connection. */
interface TcpProgress {
  /** Lines handed to the socket whose write callback has not yet fired, oldest first. */
  unflushed: number[];
  /** When the socket last handed a write to the kernel, connected, or was given a write while idle (monotonic ms). */
  progressMono: number;
}
type TcpConnection = TcpLine & TcpProgress;

class StatsdSinkImpl implements StatsdSink {
  readonly name: string;
  #destination: StatsdSinkOptions['destination'];
  #prefix: string;
  #logger: Logger;
  #clock: Clock;
  #resolver: HostResolver;
  #ownResolver: boolean;
  #maxPendingBytes: number;
  /** Per test, the full StatsD name of each sample name seen. */
  #names = new Map<string, Map<string, string>>();

  /** Lines of the packet being built. */
  #current: string[] = [];
  #currentBytes = 0;
  #stopFlushing: Cancel | undefined;
  /** Packets waiting for an address, a UDP socket or a TCP connection. */
  #pending: Packet[] = [];
  #pendingBytes = 0;

  #udp: UdpLink;
  #link: TcpLink<TcpProgress>;
  /** Idle once nothing waits and nothing is in flight. */
  #idle = new IdleWaiters(() => this.#pending.length === 0 && this.#udp.inFlight === 0 && (this.#link.line?.unflushed.length ?? 0) === 0);

  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopped = false;
  #unsentAtStop = 0;
  #droppedLines = 0;
  #droppedSinceWarn = 0;
  #dropWarn: WarnLimiter;
  #warnError: (err: unknown) => void;

  constructor(options: StatsdSinkOptions) {
    this.#destination = options.destination;
    this.#prefix = options.prefix;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#ownResolver = options.resolver === undefined;
    this.#resolver = options.resolver ?? createHostResolver();
    this.#maxPendingBytes = options.maxPendingBytes ?? STATSD_MAX_PENDING_BYTES;
    if (!Number.isInteger(this.#maxPendingBytes) || this.#maxPendingBytes < STATSD_MAX_BUFFER_BYTES) {
      throw new TypeError(`Expected \`maxPendingBytes\` to be an integer of at least ${STATSD_MAX_BUFFER_BYTES}, got ${this.#maxPendingBytes}`);
    }
    this.name = destinationKey(options.destination);
    this.#dropWarn = new WarnLimiter(this.#clock);
    this.#warnError = createErrorWarner({
      clock: this.#clock,
      logger: this.#logger,
      message: 'statsd send failed',
      where: 'statsd socket',
      destination: this.name,
      fields: (suppressed) => ({ suppressed: suppressed || undefined }),
    });
    this.#udp = new UdpLink({
      host: options.destination.host,
      port: options.destination.port,
      clock: this.#clock,
      resolver: this.#resolver,
      maxInFlight: this.#maxPendingBytes / STATSD_MAX_BUFFER_BYTES,
      warnError: this.#warnError,
      onReady: () => this.#drain(),
      onDropped: (lines, reason) => this.#drop(lines, reason, true),
      onSettled: () => this.#idle.settle(),
    });
    this.#link = new TcpLink({
      host: options.destination.host,
      port: options.destination.port,
      clock: this.#clock,
      logger: this.#logger,
      resolver: this.#resolver,
      kind: 'statsd',
      destination: this.name,
      warnError: this.#warnError,
      resetBackoffAfterMs: RECONNECT_RESET_AFTER_MS,
      extra: () => ({ unflushed: [], progressMono: this.#clock.now() }),
      onOpen: (tcp) => {
        tcp.progressMono = this.#clock.now();
        this.#drain();
      },
    });
  }

  get droppedLines(): number {
    return this.#droppedLines;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#stopFlushing = this.#clock.every(STATSD_FLUSH_INTERVAL_MS, () => this.#flush(), { unref: true });
    this.#prepare();
  }

  record(event: MetricEvent): void {
    if (this.#stopped) return;
    try {
      for (const sample of eventSamples(event)) this.#add(`${this.#nameOf(event.test, sample.name)}:${formatValue(sample)}`);
    } catch (err) {
      this.#warnError(err);
    }
  }

  recordAgent(counter: AgentCounter): void {
    if (this.#stopped || counter.value === 0) return;
    try {
      this.#add(`${agentMetricName(this.#prefix, counter.name)}:${counter.value}|c`);
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** Sends what is buffered and closes, by `deadlineMonoMs`; what could not be sent is counted in one warning. */
  async stop(deadlineMonoMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#stopFlushing?.();
      this.#flush();
      if (this.#pending.length > 0) {
        // Do not sit out a backoff: try once more now, and keep retrying until the deadline.
        if (this.#destination.protocol === 'tcp') this.#link.retryNow();
        else this.#udp.retryNow();
      }
      // A server that has taken nothing for a while will not take it now: do not wait for it.
      const tcpNow = this.#link.line;
      const stalled = tcpNow?.open === true && tcpNow.unflushed.length > 0 && this.#clock.now() - tcpNow.progressMono >= STALLED_AFTER_MS;
      if (!stalled) await withDeadline(this.#clock, this.#idle.wait(), deadlineMonoMs - this.#clock.now());
      this.#udp.shutDown();
      this.#link.shutDown();
      if (this.#ownResolver) this.#resolver.cancel();
      // Graceful when open. Lines the socket never handed to the kernel are lost with it.
      await this.#link.end(
        (tcp) => tcp.open,
        deadlineMonoMs,
        (tcp) => {
          this.#drop(tcp.unflushed.reduce((a, b) => a + b, 0), 'not sent before the stop deadline', false);
          tcp.unflushed = [];
        },
      );
      this.#udp.close();
      this.#drop(this.#pending.reduce((a, p) => a + p.lines, 0), 'not sent before the stop deadline', false);
      this.#pending = [];
      this.#pendingBytes = 0;
      if (this.#link.unconfirmedLines > 0) {
        this.#logger.warn('statsd lines may not have been delivered: the server did not confirm the close', {
          destination: this.name,
          lines: this.#link.unconfirmedLines,
        });
      }
      if (this.#droppedLines > 0) {
        this.#logger.warn('statsd lines dropped during the run', {
          destination: this.name,
          total_dropped: this.#droppedLines,
          not_sent_at_stop: this.#unsentAtStop,
          // The host name never resolved: nothing could have been sent.
          resolved: this.#resolved() ? undefined : false,
        });
      }
    } catch (err) {
      this.#warnError(err);
    }
  }

  #nameOf(test: string, sample: string): string {
    let names = this.#names.get(test);
    if (!names) {
      names = new Map();
      this.#names.set(test, names);
    }
    let name = names.get(sample);
    if (name === undefined) {
      name = testMetricName(this.#prefix, test, sample);
      names.set(sample, name);
    }
    return name;
  }

  /** Adds one line to the packet being built, sending the packet first when the line would not fit. */
  #add(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.#currentBytes + bytes > STATSD_MAX_BUFFER_BYTES) this.#flush();
    this.#current.push(line);
    this.#currentBytes += bytes;
  }

  /** Hands the packet being built to the transport. */
  #flush(): void {
    if (this.#current.length === 0) return;
    const packet: Packet = { text: this.#current.join('\n'), lines: this.#current.length };
    this.#current = [];
    this.#currentBytes = 0;
    this.#send(packet);
  }

  #send(packet: Packet): void {
    if (this.#destination.protocol === 'udp') {
      if (this.#udp.ready && this.#pending.length === 0) this.#udp.send(packet.text, packet.lines);
      else this.#hold(packet);
      return;
    }
    const tcp = this.#link.line;
    if (tcp?.open && this.#pending.length === 0) this.#writeTcp(tcp, packet);
    else this.#hold(packet);
  }

  /** Keeps a packet until it can be sent; drops it when that would pass the byte bound. */
  #hold(packet: Packet): void {
    const bytes = Buffer.byteLength(packet.text) + 1;
    if (this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.#drop(packet.lines, this.#resolved() ? 'server not reachable' : 'server address not known yet', true);
      return;
    }
    this.#pending.push(packet);
    this.#pendingBytes += bytes;
  }

  /** Sends what waited, now that the transport is ready. */
  #drain(): void {
    const waiting = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const packet of waiting) this.#send(packet);
    this.#idle.settle();
  }

  /** Writes one packet on an open connection, unless the socket already holds `maxPendingBytes`. */
  #writeTcp(tcp: TcpConnection, packet: Packet): void {
    if (tcp.socket.destroyed || tcp.socket.writableEnded) {
      tcp.open = false;
      this.#hold(packet);
      return;
    }
    const text = packet.text + '\n';
    if (tcp.socket.writableLength + text.length > this.#maxPendingBytes) {
      this.#drop(packet.lines, 'server not reading', true);
      return;
    }
    if (tcp.unflushed.length === 0) tcp.progressMono = this.#clock.now();
    tcp.unflushed.push(packet.lines);
    tcp.socket.write(text, (err) => {
      const lines = tcp.unflushed.shift() ?? 0;
      if (err) {
        tcp.open = false;
        this.#drop(lines, 'send failed', true);
      } else {
        tcp.linesWritten += lines;
        tcp.progressMono = this.#clock.now();
      }
      this.#idle.settle();
    });
  }

  /** True once the host name has resolved. */
  #resolved(): boolean {
    return this.#udp.resolved || this.#link.resolved;
  }

  /** Opens the link of the destination's protocol. */
  #prepare(): void {
    if (this.#destination.protocol === 'tcp') this.#link.connect();
    else this.#udp.connect();
  }

  /** Counts lost lines; `warn` says it now (at most once per `WARN_EVERY_MS`), else only `stop`'s final count does. */
  #drop(lines: number, reason: string, warn: boolean): void {
    if (lines <= 0) return;
    this.#droppedLines += lines;
    if (!warn) {
      this.#unsentAtStop += lines;
      return;
    }
    this.#droppedSinceWarn += lines;
    if (!this.#dropWarn.ready()) return;
    this.#logger.warn('statsd lines dropped', { destination: this.name, reason, dropped: this.#droppedSinceWarn, total_dropped: this.#droppedLines });
    this.#droppedSinceWarn = 0;
  }
}

/** A sample's value and StatsD type: `1|c`, `12.345|ms`, `3|g`. */
function formatValue(sample: Sample): string {
  if (sample.kind === 'timing') return `${roundMs(sample.value)}|ms`;
  return `${sample.value}|${sample.kind === 'counter' ? 'c' : 'g'}`;
}

/** Rounds to the microsecond, which keeps lines short without losing precision that matters. */
function roundMs(ms: number): number {
  return Number.isFinite(ms) ? Math.round(Math.max(0, ms) * 1000) / 1000 : 0;
}
