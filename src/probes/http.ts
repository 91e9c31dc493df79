/**
 * The `http` probe type: one request per execution (https too), on connections shared by every test
 * to the same origin (see http-pools.ts). Its fields are in http-params.ts, its warm-up in
 * http-warm-up.ts.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { HostResolver } from '../net/resolve.js';
import { DEFAULT_HTTP_CONCURRENCY, parseHttpParams, type HttpProbeOptions } from './http-params.js';
import { HttpExchange, type ExchangeShared } from './http-exchange.js';
import { leasePool, type PoolLease } from './http-pools.js';
import { warmUpHttp } from './http-warm-up.js';
import { InflightList } from './inflight-list.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';

const ABORTED: ProbeResult = Object.freeze({ ok: false, latencyMs: 0, reason: 'aborted' });

/**
 * An http probe: one request per execution, on connections shared with every other test to the
 * same origin (see http-pools.ts), so a thousand tests to one site hold a few sockets, not a thousand.
 * Each execution is an HttpExchange (http-exchange.ts) dispatched to the pool; the probe's
 * executions in flight share one timeout timer and one wait on the caller's signal (inflight-list.ts).
 */
class HttpProbe implements Probe {
  readonly #timeoutMs: number;
  readonly #lease: PoolLease;
  readonly #clock: Clock;
  readonly #shared: ExchangeShared;
  /** The request, built once: undici reads it and never changes it. */
  readonly #request: Dispatcher.DispatchOptions;
  #closing: Promise<void> | undefined;

  constructor(options: HttpProbeOptions, clock: Clock, resolver: HostResolver | undefined) {
    this.#clock = clock;
    this.#timeoutMs = options.timeoutMs;
    const url = new URL(options.url);
    this.#lease = leasePool({ origin: url.origin, connectTimeoutMs: options.timeoutMs, ...(resolver ? { resolver } : {}), ...(options.ca ? { ca: options.ca.pem } : {}) });
    this.#shared = { clock, expect: options.expect, inflight: new InflightList(clock) };
    // Per-request headersTimeout/bodyTimeout (the test's own timeout) override undici's 300 s defaults.
    this.#request = Object.freeze({
      path: url.pathname + url.search,
      method: options.method,
      headers: options.headers.flat(),
      body: options.body === undefined ? null : Buffer.from(options.body),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /**
   * Opens one connection (TCP, and TLS for https) for this origin before the window starts, so the
   * first tick does not also pay for the handshake and lands on time. Sends no request; never rejects.
   */
  prepare(): Promise<void> {
    return this.#closing ? Promise.resolve() : this.#lease.prepare();
  }

  /**
   * One request and its whole body. The execution ends itself on a stop or at its timeout, whatever
   * undici is doing (see HttpExchange); resolves, never rejects.
   */
  execute(signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.resolve({ ...ABORTED });
    const started = this.#clock.now();
    return new Promise<ProbeResult>((resolve) => {
      const exchange = new HttpExchange(this.#shared, started, signal, this.#timeoutMs, resolve);
      this.#shared.inflight.add(exchange);
      // A pool already destroyed (the probe closed) calls onError at once: `other`.
      this.#lease.pool.dispatch(this.#request, exchange);
    });
  }

  /**
   * Gives up this test's hold on its origin's pool. Callers close a probe once its executions have
   * settled; the last test of an origin destroys the pool (nothing still in it has a waiter).
   */
  close(): Promise<void> {
    this.#shared.inflight.close();
    this.#closing ??= this.#lease.release();
    return this.#closing;
  }
}

/**
 * Builds an http probe from validated options, timed on `context.clock`. Its target's host name is
 * resolved by `resolver` (its owner cancels it), or by default by the connection pools' own
 * resolver, once per run.
 */
export function createHttpProbe(options: HttpProbeOptions, context: Pick<ProbeContext, 'clock'>, resolver?: HostResolver): Probe {
  return new HttpProbe(options, context.clock, resolver);
}

/** The `http` probe type (serves `https://` URLs too). */
export const httpProbeType: ProbeType<HttpProbeOptions> = {
  name: 'http',
  defaultConcurrency: DEFAULT_HTTP_CONCURRENCY,
  parse: parseHttpParams,
  create: (options, context) => createHttpProbe(options, context),
  prepare: (context) => warmUpHttp((options) => createHttpProbe(options, context)),
};
