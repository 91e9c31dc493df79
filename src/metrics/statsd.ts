/**
 * The StatsD sink: every event becomes counter and timer lines (`name:value|c`, `name:value|ms`),
 * and each flush adds the latency bucket counters summed since the last; the lines are batched into
 * packets of at most `STATSD_MAX_BUFFER_BYTES` and flushed `STATSD_FLUSH_INTERVAL_MS` after the first
 * line since the last flush (no timer runs while nothing is recorded: a quiet test wakes the process
 * once a second, not five times), over UDP
 * (one datagram per packet) or one TCP connection.
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
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import type { AgentCounter, MetricEvent } from '../events.js';
import type { MetricSink } from './sink.js';
import { PacketBuilder, PacketQueue, STATSD_MAX_BUFFER_BYTES, StatsdLines, type Packet, type StatsdTagFormat } from './statsd-lines.js';
import { TcpLink, type TcpLine } from './tcp-link.js';
import { createErrorWarner, DroppedLines, IdleWaiters, STALLED_AFTER_MS } from './transport.js';
import { UdpLink } from './udp-link.js';

export { STATSD_MAX_BUFFER_BYTES } from './statsd-lines.js';
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
  /** `statsd_tags`: the test and host (`hostname`'s short form) as tags in that syntax; default path segments. */
  tags?: { format: StatsdTagFormat; hostname: string };
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
  #logger: Logger;
  #clock: Clock;
  #resolver: HostResolver;
  #ownResolver: boolean;
  #maxPendingBytes: number;
  #lines: StatsdLines;
  #packet = new PacketBuilder((packet) => this.#send(packet));
  /** The pending flush, armed by the first line after a flush. */
  #flushTimer: Cancel | undefined;
  /** Packets waiting for an address, a UDP socket or a TCP connection. */
  #pending: PacketQueue;
  #udp: UdpLink;
  #link: TcpLink<TcpProgress>;
  /** Idle once nothing waits and nothing is in flight. */
  #idle = new IdleWaiters(() => this.#pending.length === 0 && this.#udp.inFlight === 0 && (this.#link.line?.unflushed.length ?? 0) === 0);
  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopped = false;
  #unsentAtStop = 0;
  #dropped: DroppedLines;
  #warnError: (err: unknown) => void;

  constructor(options: StatsdSinkOptions) {
    this.#destination = options.destination;
    this.#lines = new StatsdLines(options.prefix, options.tags);
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#ownResolver = options.resolver === undefined;
    this.#resolver = options.resolver ?? createHostResolver({ clock: this.#clock });
    this.#maxPendingBytes = options.maxPendingBytes ?? STATSD_MAX_PENDING_BYTES;
    if (!Number.isInteger(this.#maxPendingBytes) || this.#maxPendingBytes < STATSD_MAX_BUFFER_BYTES) {
      throw new TypeError(`Expected \`maxPendingBytes\` to be an integer of at least ${STATSD_MAX_BUFFER_BYTES}, got ${this.#maxPendingBytes}`);
    }
    this.#pending = new PacketQueue(this.#maxPendingBytes);
    this.name = destinationKey(options.destination);
    this.#dropped = new DroppedLines(this.#clock, this.#logger, 'statsd lines dropped', this.name);
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
    return this.#dropped.total;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    if (this.#destination.protocol === 'tcp') this.#link.connect();
    else this.#udp.connect();
  }

  record(event: MetricEvent): void {
    if (this.#stopped) return;
    try {
      this.#lines.event(event, this.#addLine);
      this.#flushTimer ??= this.#clock.after(STATSD_FLUSH_INTERVAL_MS, this.#timedFlush, { unref: true });
    } catch (err) {
      this.#warnError(err);
    }
  }

  recordAgent(counter: AgentCounter): void {
    if (this.#stopped || counter.value === 0) return;
    try {
      this.#packet.add(this.#lines.agent(counter));
      this.#flushTimer ??= this.#clock.after(STATSD_FLUSH_INTERVAL_MS, this.#timedFlush, { unref: true });
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** Sends what is buffered and closes, by `deadlineMonoMs`; what could not be sent is counted in one warning. */
  async stop(deadlineMonoMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#flushTimer?.();
      this.#flushTimer = undefined;
      this.#flush();
      // Do not sit out a backoff: try once more now, and keep retrying until the deadline.
      if (this.#pending.length > 0) (this.#destination.protocol === 'tcp' ? this.#link : this.#udp).retryNow();
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
      this.#drop(this.#pending.takeAll().reduce((a, p) => a + p.lines, 0), 'not sent before the stop deadline', false);
      if (this.#link.unconfirmedLines > 0) {
        const lines = this.#link.unconfirmedLines;
        this.#logger.warn('statsd lines may not have been delivered: the server did not confirm the close', { destination: this.name, lines });
      }
      if (this.#dropped.total > 0) {
        this.#logger.warn('statsd lines dropped during the run', {
          destination: this.name,
          total_dropped: this.#dropped.total,
          not_sent_at_stop: this.#unsentAtStop,
          // The host name never resolved: nothing could have been sent.
          resolved: this.#resolved() ? undefined : false,
        });
      }
    } catch (err) {
      this.#warnError(err);
    }
  }

  /** The armed flush (bound once). */
  #timedFlush = (): void => {
    this.#flushTimer = undefined;
    this.#flush();
  };

  /** Adds the latency counters summed since the last flush, then sends the packet being built. */
  #flush(): void {
    this.#lines.flushBuckets(this.#addLine);
    this.#packet.flush();
  }

  /** Adds one line to the packet being built (bound once: it is called for every line). */
  #addLine = (line: string, bytes: number): void => this.#packet.add(line, bytes);

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
    if (!this.#pending.push(packet)) this.#drop(packet.lines, this.#resolved() ? 'server not reachable' : 'server address not known yet', true);
  }

  /** Sends what waited, now that the transport is ready. */
  #drain(): void {
    for (const packet of this.#pending.takeAll()) this.#send(packet);
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

  /** Counts lost lines; `warn` says it now (at most once per `WARN_EVERY_MS`), else only `stop`'s final count does. */
  #drop(lines: number, reason: string, warn: boolean): void {
    if (lines <= 0) return;
    if (warn) {
      this.#dropped.add(lines, { reason });
    } else {
      this.#dropped.count(lines);
      this.#unsentAtStop += lines;
    }
  }
}
