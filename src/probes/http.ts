/**
 * The `http` probe type: one request per execution (https too), on connections shared by every test
 * to the same origin (see http-pools.ts). Its fields are in http-params.ts, its warm-up in
 * http-warm-up.ts.
 */
import type { Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { HostResolver } from '../net/resolve.js';
import { DEFAULT_HTTP_CONCURRENCY, parseHttpParams, type HttpProbeOptions, type StatusRange } from './http-params.js';
import { leasePool, type PoolLease } from './http-pools.js';
import { warmUpHttp } from './http-warm-up.js';
import { whenAborted } from './abort-waiters.js';
import { classifyNetError } from './net-errors.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';

function inRanges(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.min && status <= r.max);
}

/**
 * An http(s) probe: one request per execution, on connections shared with every other test to the
 * same origin (see http-pools.ts), so a thousand tests to one site hold a few sockets, not a thousand.
 */
class HttpProbe implements Probe {
  readonly #options: HttpProbeOptions;
  readonly #path: string;
  readonly #headers: string[];
  readonly #lease: PoolLease;
  readonly #clock: Clock;
  #closing: Promise<void> | undefined;

  constructor(options: HttpProbeOptions, clock: Clock, resolver: HostResolver | undefined) {
    this.#options = options;
    this.#clock = clock;
    const url = new URL(options.url);
    this.#path = url.pathname + url.search;
    this.#headers = options.headers.flat();
    this.#lease = leasePool({ origin: url.origin, connectTimeoutMs: options.timeoutMs, ...(resolver ? { resolver } : {}), ...(options.ca ? { ca: options.ca.pem } : {}) });
  }

  /**
   * Opens one connection (TCP, and TLS for https) for this origin before the window starts, so the
   * first tick does not also pay for the handshake and lands on time. Sends no request; never rejects.
   */
  prepare(): Promise<void> {
    return this.#closing ? Promise.resolve() : this.#lease.prepare();
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const clock = this.#clock;
    const started = clock.now();
    if (signal.aborted) return { ok: false, latencyMs: 0, reason: 'aborted' };
    // The execution ends itself on a stop or at its timeout, whatever undici is doing: a request
    // still waiting for a connection (a target whose connects hang) is aborted by undici only once
    // connected, so awaiting it would hold a stop for the connect timeout. The request is left to
    // the pool, which fails it when it connects or is destroyed. The timer and the wait on the
    // caller's signal end in `finally`, so nothing accumulates on the long-lived caller signal.
    const controller = new AbortController();
    let stopWaiting!: () => void;
    let cancelTimer: (() => void) | undefined;
    const gaveUp = new Promise<'aborted' | 'timeout'>((resolve) => {
      stopWaiting = whenAborted(signal, () => {
        controller.abort(signal.reason);
        resolve('aborted');
      });
      cancelTimer = clock.after(this.#options.timeoutMs, () => {
        controller.abort(new Error('http probe timeout'));
        resolve('timeout');
      });
    });
    try {
      const outcome = await Promise.race([this.#exchange(controller.signal, started), gaveUp]);
      if (typeof outcome === 'string') return { ok: false, latencyMs: clock.now() - started, reason: outcome };
      if ('error' in outcome) {
        const latencyMs = clock.now() - started;
        if (signal.aborted) return { ok: false, latencyMs, reason: 'aborted' };
        if (controller.signal.aborted) return { ok: false, latencyMs, reason: 'timeout' };
        return { ok: false, latencyMs, reason: classifyNetError(outcome.error) };
      }
      const { status, latencyMs } = outcome;
      if (inRanges(status, this.#options.expect)) return { ok: true, latencyMs };
      return { ok: false, latencyMs, reason: `status_${status}` };
    } finally {
      cancelTimer?.();
      stopWaiting();
    }
  }

  /** One request and its whole body; resolves with the status or the error, never rejects. */
  async #exchange(signal: AbortSignal, started: number): Promise<{ status: number; latencyMs: number } | { error: unknown }> {
    try {
      const timeoutMs = this.#options.timeoutMs;
      const response = await this.#lease.pool.request({
        path: this.#path,
        method: this.#options.method,
        headers: this.#headers,
        body: this.#options.body ?? null,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      // Read the whole body (it is part of the latency) so the connection can be reused.
      for await (const _chunk of response.body) {
        // discarded
      }
      const latencyMs = this.#clock.now() - started;
      // With pipelining 1, undici hands a kept-alive socket back to the pool only one event-loop
      // turn after the response ends. Resolving after that turn keeps this execution's slot until
      // its connection is reusable, so back-to-back executions reuse it instead of opening more.
      await new Promise<void>((resolve) => this.#clock.soon(resolve));
      return { status: response.statusCode, latencyMs };
    } catch (error) {
      return { error };
    }
  }

  /**
   * Gives up this test's hold on its origin's pool. Callers close a probe once its executions have
   * settled; the last test of an origin destroys the pool (nothing still in it has a waiter).
   */
  close(): Promise<void> {
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
