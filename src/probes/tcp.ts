/**
 * The `tcp` probe type: each execution is a fresh connect to `target` (no warm connection: the
 * connect is what it measures), then optionally writes `send` and waits for `expect`. Its fields are
 * in tcp-params.ts.
 */
import net, { type Socket } from 'node:net';
import type { Clock } from '../clock.js';
import type { FailureReason, ProbeResult } from '../events.js';
import { fdLimitCode, limitHit } from '../limits.js';
import type { Logger } from '../log.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import { whenAborted } from './abort-waiters.js';
import { classifyNetError } from './net-errors.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';
import { DEFAULT_TCP_CONCURRENCY, MAX_TCP_READ_BYTES, parseTcpParams, type TcpProbeOptions } from './tcp-params.js';

/** Ends one execution with success (no reason) or a failure reason; the first call wins. */
type Finish = (reason?: FailureReason) => void;

/**
 * A tcp probe. Latency runs from the start of the execution (the target's name is resolved on the
 * first one and remembered for the run) to the connect, or, with `send`/`expect`, to the written
 * bytes leaving or the expected ones arriving.
 */
class TcpProbe implements Probe {
  readonly #options: TcpProbeOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #test: string;
  readonly #resolver: HostResolver;
  /** Sockets of executions in flight, destroyed by close(). */
  readonly #sockets = new Set<Socket>();
  #closed = false;

  constructor(options: TcpProbeOptions, context: ProbeContext, resolver: HostResolver | undefined) {
    this.#options = options;
    this.#clock = context.clock;
    this.#logger = context.logger;
    this.#test = context.test;
    this.#resolver = resolver ?? createHostResolver({ clock: context.clock });
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const clock = this.#clock;
    const started = clock.now();
    if (signal.aborted) return { ok: false, latencyMs: 0, reason: 'aborted' };
    if (this.#closed) return { ok: false, latencyMs: 0, reason: 'other' };
    let result: ProbeResult | undefined;
    let wake!: () => void;
    const done = new Promise<void>((resolve) => (wake = resolve));
    // Latency is read when the outcome is known (the connect, the match), not after the awaits.
    const finish: Finish = (reason) => {
      if (result) return;
      const latencyMs = clock.now() - started;
      result = reason === undefined ? { ok: true, latencyMs } : { ok: false, latencyMs, reason };
      wake();
    };
    const stopWaiting = whenAborted(signal, () => finish('aborted'));
    const cancelTimer = clock.after(this.#options.timeoutMs, () => finish('timeout'));
    let socket: Socket | undefined;
    try {
      const address = await Promise.race([this.#address(), done]);
      if (!address) finish(this.#closed ? 'other' : 'dns');
      else if (!result) socket = this.#connect(address, finish);
      await done;
      return result ?? { ok: false, latencyMs: clock.now() - started, reason: 'other' };
    } finally {
      cancelTimer();
      stopWaiting();
      if (socket) {
        socket.destroy();
        this.#sockets.delete(socket);
      }
    }
  }

  /** The target's address, or undefined (logged at debug) when its name does not resolve. */
  async #address(): Promise<{ address: string; family: 4 | 6 } | undefined> {
    const resolved = await this.#resolver.resolve(this.#options.host);
    if (resolved.ok) return resolved;
    this.#logger.debug('tcp target not resolved', { test: this.#test, host: this.#options.host, code: resolved.code, error: resolved.message });
    return undefined;
  }

  /** Opens the execution's socket and follows it to its outcome: connect, write, read until a match. */
  #connect(to: { address: string; family: 4 | 6 }, finish: Finish): Socket | undefined {
    const { port, send, expect } = this.#options;
    let socket: Socket;
    try {
      socket = net.connect({ host: to.address, port, family: to.family, noDelay: true });
    } catch (err) {
      this.#failed(err, finish);
      return undefined;
    }
    this.#sockets.add(socket);
    let received = 0;
    let tail = Buffer.alloc(0);
    // Every way the socket can end without a match: an error, the peer's FIN, close() by the run.
    socket.on('error', (err) => this.#failed(err, finish));
    const closedEarly = () => finish(this.#closed ? 'other' : received > 0 ? 'mismatch' : 'reset');
    socket.on('close', closedEarly);
    socket.once('connect', () => {
      if (send) {
        socket.write(send, (err) => {
          if (!err && !expect) finish();
        });
      } else if (!expect) {
        finish();
      }
    });
    if (!expect) return socket;
    socket.on('end', closedEarly);
    socket.on('data', (chunk: Buffer) => {
      const piece = chunk.subarray(0, MAX_TCP_READ_BYTES - received);
      received += piece.length;
      // The expected bytes may straddle chunks: search the last expect.length - 1 bytes too.
      const window = tail.length > 0 ? Buffer.concat([tail, piece]) : piece;
      if (window.includes(expect)) return finish();
      if (received >= MAX_TCP_READ_BYTES) return finish('mismatch');
      tail = Buffer.from(window.subarray(Math.max(0, window.length - (expect.length - 1))));
    });
    return socket;
  }

  /** Ends an execution on a socket error: its shared reason, the fd-limit alarm raised when it is one. */
  #failed(err: unknown, finish: Finish): void {
    const code = fdLimitCode(err);
    if (code) limitHit(code, { where: 'tcp connect' });
    if (this.#closed) return finish('other');
    const reason = classifyNetError(err);
    if (reason === 'other') this.#logger.debug('tcp execution failed', { test: this.#test, error: String(err) });
    finish(reason);
  }

  /** Cancels pending name lookups and destroys every socket still open; executions in flight end as `other`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#resolver.cancel();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/**
 * Builds a tcp probe from validated options, timed on `context.clock`. Its target's name is resolved
 * by `resolver` when given (tests: a private DNS server), else by one of its own; either way the
 * probe owns it and cancels it at close().
 */
export function createTcpProbe(options: TcpProbeOptions, context: ProbeContext, resolver?: HostResolver): Probe {
  return new TcpProbe(options, context, resolver);
}

/** The `tcp` probe type. */
export const tcpProbeType: ProbeType<TcpProbeOptions> = {
  name: 'tcp',
  defaultConcurrency: DEFAULT_TCP_CONCURRENCY,
  parse: parseTcpParams,
  create: (options, context) => createTcpProbe(options, context),
};
