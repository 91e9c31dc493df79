/**
 * The `websocket` probe type: each execution opens a fresh connection (ws:// or wss://, the upgrade
 * is what it measures), optionally sends one text message and waits for a reply, then closes. Its
 * fields are in websocket-params.ts, the connection itself in websocket-session.ts.
 */
import { withDeadline, type Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { Logger } from '../log.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import { whenAborted } from './abort-waiters.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';
import { DEFAULT_WEBSOCKET_CONCURRENCY, parseWebSocketParams, type WebSocketProbeOptions } from './websocket-params.js';
import { openWebSocket, preloadWebSocketClient, WebSocketError, type WebSocketSession } from './websocket-session.js';

/**
 * A websocket probe. Latency runs from the start of the execution (the upgrade request; the host
 * name is resolved on the first one and remembered for the run) to the expected reply, or, when
 * nothing is sent or expected, to the open connection. The close handshake that follows is not
 * timed, but the execution waits for it within what is left of its timeout, then drops the socket.
 */
class WebSocketProbe implements Probe {
  readonly #options: WebSocketProbeOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #test: string;
  readonly #resolver: HostResolver;
  /** The abort controllers of executions in flight; close() aborts them, which drops their sockets. */
  readonly #inFlight = new Set<AbortController>();
  #closed = false;

  constructor(options: WebSocketProbeOptions, context: ProbeContext, resolver: HostResolver | undefined) {
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
    const { url, headers, send, expect, ca, timeoutMs } = this.#options;
    // The session's own timers (the opening's, the receive's) bound the execution; the run's one
    // signal is waited on through a Set (see abort-waiters.ts), not a listener per execution.
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const stopWaiting = whenAborted(signal, () => controller.abort());
    let session: WebSocketSession | undefined;
    try {
      session = await openWebSocket(url, { headers, signal: controller.signal, clock, timeoutMs, resolver: this.#resolver, ...(ca ? { ca: ca.pem } : {}) });
      if (send !== undefined) session.send(send);
      if (send !== undefined || expect !== undefined) {
        await session.receive({ ...(expect !== undefined ? { contains: expect } : {}), timeoutMs: Math.max(0, timeoutMs - (clock.now() - started)) });
      }
      return { ok: true, latencyMs: clock.now() - started };
    } catch (err) {
      const latencyMs = clock.now() - started;
      if (signal.aborted) return { ok: false, latencyMs, reason: 'aborted' };
      if (this.#closed) return { ok: false, latencyMs, reason: 'other' };
      const reason = err instanceof WebSocketError ? err.reason : 'other';
      if (reason === 'other' || reason === 'tls') {
        // The verification code of a certificate not accepted (CERT_HAS_EXPIRED …), for `--log-level debug`.
        const code = (err as { cause?: { code?: unknown } }).cause?.code;
        this.#logger.debug('websocket execution failed', { test: this.#test, reason, ...(typeof code === 'string' ? { code } : {}), error: String(err) });
      }
      return { ok: false, latencyMs, reason };
    } finally {
      if (session) await withDeadline(clock, session.close(), timeoutMs - (clock.now() - started));
      // Whatever is left (a server ignoring the close handshake) is dropped now.
      controller.abort();
      stopWaiting();
      this.#inFlight.delete(controller);
    }
  }

  /** Drops every connection of executions in flight (they end as `other`) and cancels pending name lookups. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const controller of this.#inFlight) controller.abort();
    this.#inFlight.clear();
    this.#resolver.cancel();
  }
}

/**
 * Builds a websocket probe from validated options, timed on `context.clock`. Its target's name is
 * resolved by `resolver` when given (tests: a private DNS server), else by one of its own; either
 * way the probe owns it and cancels it at close().
 */
export function createWebSocketProbe(options: WebSocketProbeOptions, context: ProbeContext, resolver?: HostResolver): Probe {
  return new WebSocketProbe(options, context, resolver);
}

/** The `websocket` probe type (ws:// and wss://). */
export const websocketProbeType: ProbeType<WebSocketProbeOptions> = {
  name: 'websocket',
  defaultConcurrency: DEFAULT_WEBSOCKET_CONCURRENCY,
  parse: parseWebSocketParams,
  create: (options, context) => createWebSocketProbe(options, context),
  prepare: async () => preloadWebSocketClient(),
};
