/**
 * The `http` probe type: one request per execution (https too), on connections shared by every test
 * to the same origin (see http-pools.ts): `http:` URLs on our own HTTP/1.1 client (http1-pool.ts),
 * `https:` ones on undici. Its fields are in http-params.ts, undici's warm-up (https) in http-warm-up.ts.
 */
import type { Dispatcher, Pool } from 'undici';
import type { Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { HostResolver } from '../net/resolve.js';
import { DEFAULT_HTTP_CONCURRENCY, parseHttpParams, type HttpProbeOptions } from './http-params.js';
import { HttpExchange, type ExchangeShared } from './http-exchange.js';
import { leaseHttp1Pool, leasePool, type PoolLease } from './http-pools.js';
import type { Http1Pool } from './http1-pool.js';
import { buildHttp1Request } from './http1-request.js';
import { warmUpUndici } from './http-warm-up.js';
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
  readonly #lease: PoolLease<Pool | Http1Pool>;
  readonly #clock: Clock;
  readonly #shared: ExchangeShared;
  /** Sends an execution's request, built once (the bytes for http:, undici's options for https:). */
  readonly #dispatch: (exchange: HttpExchange) => void;
  readonly #https: boolean;
  #closing: Promise<void> | undefined;

  constructor(options: HttpProbeOptions, clock: Clock, resolver: HostResolver | undefined) {
    this.#clock = clock;
    this.#timeoutMs = options.timeoutMs;
    const url = new URL(options.url);
    this.#https = url.protocol === 'https:';
    const key = { origin: url.origin, connectTimeoutMs: options.timeoutMs, ...(resolver ? { resolver } : {}), ...(options.ca ? { ca: options.ca.pem } : {}) };
    this.#shared = { clock, expect: options.expect, inflight: new InflightList(clock), releasesAtOnce: !this.#https };
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    if (!this.#https) {
      const lease = leaseHttp1Pool(key);
      const request = buildHttp1Request(url, options.method, options.headers, body);
      this.#lease = lease;
      this.#dispatch = (exchange) => lease.pool.dispatch(request, exchange);
      return;
    }
    const lease = leasePool(key);
    // Per-request headersTimeout/bodyTimeout (the test's own timeout) override undici's 300 s defaults.
    const request: Dispatcher.DispatchOptions = Object.freeze({
      path: url.pathname + url.search,
      method: options.method,
      headers: options.headers.flat(),
      body: body ?? null,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    this.#lease = lease;
    this.#dispatch = (exchange) => lease.pool.dispatch(request, exchange);
  }

  /**
   * Opens one connection (TCP, and TLS for https) for this origin before the window starts, so the
   * first tick does not also pay for the handshake and lands on time. Sends no request; never rejects.
   */
  prepare(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    // https: undici's parser compiled (once per process) while the connection opens.
    return this.#https ? Promise.all([warmUpUndici(), this.#lease.prepare()]).then(() => undefined) : this.#lease.prepare();
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
      this.#dispatch(exchange);
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
  // No type-wide warm-up: an https probe warms undici in its own prepare(), http: needs none.
};
