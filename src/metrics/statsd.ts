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
import dgram from 'node:dgram';
import net from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { destinationKey, type Destination } from './destination.js';
import { fdLimitCode, limitHit } from '../limits.js';
import type { Logger } from '../log.js';
import { agentMetricName, testMetricName } from './names.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import { eventSamples, type AgentCounter, type MetricEvent, type Sample } from '../events.js';
import type { MetricSink } from './sink.js';

/** Largest packet, bytes: one UDP datagram fits a 1500-byte MTU. */
export const STATSD_MAX_BUFFER_BYTES = 1400;
/** How often a partial packet is sent, ms. */
export const STATSD_FLUSH_INTERVAL_MS = 200;
/**
 * Most bytes held for the server: packets waiting for the address or a connection, plus (TCP) what
 * the socket has not yet handed to the kernel. Beyond it new lines are dropped and counted.
 */
export const STATSD_MAX_PENDING_BYTES = 1024 * 1024;
/** Least time between two warnings of one kind, ms. */
const WARN_EVERY_MS = 10_000;
/** First and largest wait before resolving or connecting again, ms. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** A TCP connection that lived this long before failing starts the backoff over, ms. */
const RECONNECT_RESET_AFTER_MS = 10_000;
/** A TCP connection attempt that has not succeeded by then is abandoned, ms. */
const CONNECT_TIMEOUT_MS = 5_000;
/** A TCP socket that has taken nothing for this long means the server is not reading: a stop does not wait for it, ms. */
const STALLED_AFTER_MS = 1_000;

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

/** One TCP connection. */
interface TcpConnection {
  socket: net.Socket;
  open: boolean;
  createdMono: number;
  /** Lines handed to the socket whose write callback has not yet fired, oldest first. */
  unflushed: number[];
  /** Lines the socket handed to the kernel. */
  linesWritten: number;
  /** When the socket last handed a write to the kernel, connected, or was given a write while idle (monotonic ms). */
  progressMono: number;
  /** Set by `stop` when it ends the connection itself. */
  endedByUs: boolean;
}

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
  #flushTimer: NodeJS.Timeout | undefined;
  /** Packets waiting for an address, a UDP socket or a TCP connection. */
  #pending: Packet[] = [];
  #pendingBytes = 0;

  #address: string | undefined;
  #family: 4 | 6 = 4;
  #resolving = false;
  /** The UDP socket, once bound (binding it is what fails when the process is out of file descriptors). */
  #udp: dgram.Socket | undefined;
  #udpBinding = false;
  /** UDP sends whose callback has not fired. */
  #udpInFlight = 0;
  #tcp: TcpConnection | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_MIN_MS;
  #idleWaiters: (() => void)[] = [];

  #started = false;
  /** Set by `stop`: no more events are taken. */
  #stopped = false;
  /** Set once `stop` has waited for the flush: no more connections. */
  #closing = false;
  #unconfirmedLines = 0;
  #unsentAtStop = 0;
  #lostSinceWarn = 0;
  #lastLostWarnMono = -Infinity;
  #droppedLines = 0;
  #droppedSinceWarn = 0;
  #lastDropWarnMono = -Infinity;
  #lastErrorWarnMono = -Infinity;
  #suppressedErrors = 0;

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
  }

  get droppedLines(): number {
    return this.#droppedLines;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#flushTimer = setInterval(() => this.#flush(), STATSD_FLUSH_INTERVAL_MS);
    this.#flushTimer.unref();
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
      clearInterval(this.#flushTimer);
      this.#flush();
      if (this.#pending.length > 0 && !this.#resolving && !this.#tcp) {
        // Do not sit out a backoff: try once more now, and keep retrying until the deadline.
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#backoffMs = RECONNECT_MIN_MS;
        this.#prepare();
      }
      // A server that has taken nothing for a while will not take it now: do not wait for it.
      const tcpNow = this.#tcp;
      const stalled = tcpNow?.open === true && tcpNow.unflushed.length > 0 && this.#clock.now() - tcpNow.progressMono >= STALLED_AFTER_MS;
      if (!stalled) await withDeadline(new Promise<void>((resolve) => this.#whenIdle(resolve)), deadlineMonoMs - this.#clock.now());
      this.#closing = true;
      clearTimeout(this.#retryTimer);
      if (this.#ownResolver) this.#resolver.cancel();
      const tcp = this.#tcp;
      if (tcp && !tcp.socket.destroyed) {
        const closed = new Promise<boolean>((resolve) => tcp.socket.once('close', () => resolve(true)));
        tcp.endedByUs = true;
        // Graceful when open: FIN after what the socket holds; the server closes its side once it has read it all.
        const graceful = tcp.open;
        if (graceful) tcp.socket.end();
        else tcp.socket.destroy();
        const confirmed = graceful && (await withDeadline(closed, deadlineMonoMs - this.#clock.now())) === true;
        tcp.open = false;
        // Lines the socket never handed to the kernel are lost with it.
        this.#drop(tcp.unflushed.reduce((a, b) => a + b, 0), 'not sent before the stop deadline', false);
        tcp.unflushed = [];
        if (!confirmed) this.#unconfirmedLines += tcp.linesWritten;
        tcp.linesWritten = 0;
        tcp.socket.destroy();
      }
      this.#udp?.close();
      this.#udp = undefined;
      this.#drop(this.#pending.reduce((a, p) => a + p.lines, 0), 'not sent before the stop deadline', false);
      this.#pending = [];
      this.#pendingBytes = 0;
      if (this.#unconfirmedLines > 0) {
        this.#logger.warn('statsd lines may not have been delivered: the server did not confirm the close', {
          destination: this.name,
          lines: this.#unconfirmedLines,
        });
      }
      if (this.#droppedLines > 0) {
        this.#logger.warn('statsd lines dropped during the run', {
          destination: this.name,
          total_dropped: this.#droppedLines,
          not_sent_at_stop: this.#unsentAtStop,
          // The host name never resolved: nothing could have been sent.
          resolved: this.#address === undefined ? false : undefined,
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
      if (this.#udp && this.#address !== undefined && this.#pending.length === 0) this.#sendUdp(this.#udp, this.#address, packet);
      else this.#hold(packet);
      return;
    }
    const tcp = this.#tcp;
    if (tcp?.open && this.#pending.length === 0) this.#writeTcp(tcp, packet);
    else this.#hold(packet);
  }

  /** Keeps a packet until it can be sent; drops it when that would pass the byte bound. */
  #hold(packet: Packet): void {
    const bytes = Buffer.byteLength(packet.text) + 1;
    if (this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.#drop(packet.lines, this.#address === undefined ? 'server address not known yet' : 'server not reachable', true);
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
    this.#settleIdle();
  }

  #sendUdp(socket: dgram.Socket, address: string, packet: Packet): void {
    if (this.#udpInFlight * STATSD_MAX_BUFFER_BYTES >= this.#maxPendingBytes) {
      this.#drop(packet.lines, 'socket busy', true);
      return;
    }
    this.#udpInFlight += 1;
    try {
      socket.send(packet.text, this.#destination.port, address, (err) => {
        this.#udpInFlight -= 1;
        if (err) {
          this.#warnError(err);
          this.#drop(packet.lines, 'send failed', true);
        }
        this.#settleIdle();
      });
    } catch (err) {
      this.#udpInFlight -= 1;
      this.#warnError(err);
      this.#drop(packet.lines, 'send failed', true);
    }
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
      this.#settleIdle();
    });
  }

  /** Resolves the host (once; again after a failure), then opens the UDP socket or a TCP connection. */
  #prepare(): void {
    if (this.#resolving) return;
    if (this.#address !== undefined) {
      this.#openTransport();
      return;
    }
    this.#resolving = true;
    this.#resolver.resolve(this.#destination.host).then(
      (resolved) => {
        this.#resolving = false;
        if (this.#closing) return;
        if (!resolved.ok) {
          if (resolved.code !== 'ECANCELLED') {
            this.#warnError(Object.assign(new Error(`cannot resolve ${this.#destination.host}: ${resolved.message}`), { code: resolved.code }));
          }
          this.#scheduleRetry(this.#clock.now());
          return;
        }
        this.#address = resolved.address;
        this.#family = resolved.family;
        this.#openTransport();
      },
      (err: unknown) => {
        this.#resolving = false;
        this.#warnError(err);
        this.#scheduleRetry(this.#clock.now());
      },
    );
  }

  #openTransport(): void {
    const address = this.#address;
    if (address === undefined) return;
    if (this.#destination.protocol === 'udp') {
      if (this.#udp) this.#drain();
      else this.#bindUdp();
      return;
    }
    if (this.#tcp || this.#closing) return;
    let socket: net.Socket;
    try {
      socket = net.connect({ host: address, port: this.#destination.port });
    } catch (err) {
      this.#warnError(err);
      this.#scheduleRetry(this.#clock.now());
      return;
    }
    const tcp: TcpConnection = { socket, open: false, createdMono: this.#clock.now(), unflushed: [], linesWritten: 0, endedByUs: false, progressMono: this.#clock.now() };
    this.#tcp = tcp;
    socket.unref();
    socket.setKeepAlive(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    socket.on('connect', () => {
      socket.setTimeout(0);
      tcp.open = true;
      tcp.progressMono = this.#clock.now();
      this.#drain();
    });
    socket.on('data', () => undefined);
    socket.on('end', () => (tcp.open = false));
    socket.on('error', (err) => {
      tcp.open = false;
      this.#warnError(err);
    });
    socket.on('close', () => {
      tcp.open = false;
      if (this.#tcp !== tcp) return;
      this.#tcp = undefined;
      if (!tcp.endedByUs && tcp.linesWritten > 0) {
        // Plain StatsD has no acknowledgements: what was written shortly before the loss may be gone.
        this.#unconfirmedLines += tcp.linesWritten;
        this.#lostSinceWarn += tcp.linesWritten;
        const now = this.#clock.now();
        if (now - this.#lastLostWarnMono >= WARN_EVERY_MS) {
          this.#logger.warn('statsd connection lost: lines written on it may not have been delivered', { destination: this.name, lines: this.#lostSinceWarn });
          this.#lastLostWarnMono = now;
          this.#lostSinceWarn = 0;
        }
      }
      tcp.linesWritten = 0;
      this.#scheduleRetry(tcp.createdMono);
    });
  }

  /** Binds a UDP socket, then sends what waited; a bind that fails (EMFILE) is warned about and retried with backoff. */
  #bindUdp(): void {
    if (this.#udpBinding || this.#closing) return;
    this.#udpBinding = true;
    const failed = (err: unknown, socket?: dgram.Socket) => {
      this.#udpBinding = false;
      try {
        socket?.close();
      } catch {
        // never bound: nothing to close
      }
      this.#warnError(err);
      this.#scheduleRetry(this.#clock.now());
    };
    let socket: dgram.Socket;
    try {
      socket = dgram.createSocket(this.#family === 6 ? 'udp6' : 'udp4');
    } catch (err) {
      failed(err);
      return;
    }
    socket.unref();
    const onBindError = (err: Error) => failed(err, socket);
    socket.once('error', onBindError);
    socket.bind({ port: 0, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => this.#warnError(err));
      this.#udpBinding = false;
      if (this.#closing) {
        socket.close();
        return;
      }
      this.#udp = socket;
      this.#drain();
    });
  }

  /** Tries again after a backoff that doubles from 100 ms to 5 s (and starts over after a connection that lived 10 s). */
  #scheduleRetry(sinceMono: number): void {
    if (this.#retryTimer || this.#closing) return;
    if (this.#clock.now() - sinceMono >= RECONNECT_RESET_AFTER_MS) this.#backoffMs = RECONNECT_MIN_MS;
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RECONNECT_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#prepare();
    }, wait);
    this.#retryTimer.unref();
  }

  #whenIdle(resolve: () => void): void {
    this.#idleWaiters.push(resolve);
    this.#settleIdle();
  }

  /** Wakes `stop` once nothing waits and nothing is in flight. */
  #settleIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    if (this.#pending.length > 0 || this.#udpInFlight > 0 || (this.#tcp?.unflushed.length ?? 0) > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
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
    const now = this.#clock.now();
    if (now - this.#lastDropWarnMono < WARN_EVERY_MS) return;
    this.#logger.warn('statsd lines dropped', { destination: this.name, reason, dropped: this.#droppedSinceWarn, total_dropped: this.#droppedLines });
    this.#lastDropWarnMono = now;
    this.#droppedSinceWarn = 0;
  }

  /** Warns at most once per `WARN_EVERY_MS`, never throws. */
  #warnError(err: unknown): void {
    const code = fdLimitCode(err);
    if (code) limitHit(code, { where: 'statsd socket', destination: this.name });
    try {
      const now = this.#clock.now();
      if (now - this.#lastErrorWarnMono < WARN_EVERY_MS) {
        this.#suppressedErrors += 1;
        return;
      }
      const e = err as { message?: unknown; code?: unknown } | undefined;
      this.#logger.warn('statsd send failed', {
        destination: this.name,
        error: String(e?.message ?? err),
        code: typeof e?.code === 'string' ? e.code : undefined,
        suppressed: this.#suppressedErrors || undefined,
      });
      this.#lastErrorWarnMono = now;
      this.#suppressedErrors = 0;
    } catch {
      // Reporting must never take the agent down.
    }
  }
}

/**
 * Waits for `promise` or `ms`, whichever is first. The timer is deliberately not unref'd: it is
 * bounded, and it keeps the process alive while a caller awaits the final flush.
 */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  clearTimeout(timer);
  return result;
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
