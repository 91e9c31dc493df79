/**
 * One http execution as an undici dispatch handler: the request goes out through `pool.dispatch`,
 * the body is counted and discarded as it arrives, and the execution settles on the response's end,
 * its error, its deadline or the caller's stop — no Readable, no AbortController, no Promise.race.
 */
import type { Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { StatusRange } from './http-params.js';
import { InflightEntry, type InflightList } from './inflight-list.js';
import { classifyNetError } from './net-errors.js';

/** What every exchange of one probe shares. */
export interface ExchangeShared {
  readonly clock: Clock;
  readonly expect: readonly StatusRange[];
  /** The probe's executions in flight: deadlines and stops. */
  readonly inflight: InflightList;
  /**
   * The pool has its connection back when onComplete returns (our own, http1-pool.ts), so the
   * execution settles at once; undici's needs an event-loop turn more (see onComplete).
   */
  readonly releasesAtOnce?: boolean;
}

/** Raised to undici to end a request that timed out (undici then destroys its connection). */
const TIMEOUT_REASON = new Error('http probe timeout');

function inRanges(status: number, ranges: readonly StatusRange[]): boolean {
  for (const r of ranges) if (status >= r.min && status <= r.max) return true;
  return false;
}

/**
 * One request: undici calls the `on…` methods (its handler interface that `Request` calls directly;
 * the newer `onRequestStart…` one is wrapped per request, with the response headers parsed into an
 * object we would never read). Resolves its promise exactly once.
 */
export class HttpExchange extends InflightEntry {
  readonly #shared: ExchangeShared;
  readonly #started: number;
  readonly #resolve: (result: ProbeResult) => void;
  /** undici's way to end this request, once it is written to a connection. */
  #abort: ((err: Error) => void) | undefined;
  /** The reason given up with before undici handed over `abort`: it is used as soon as it is. */
  #gaveUp: Error | undefined;
  #status = 0;
  #settled = false;

  constructor(shared: ExchangeShared, started: number, signal: AbortSignal, timeoutMs: number, resolve: (result: ProbeResult) => void) {
    super();
    this.#shared = shared;
    this.#started = started;
    this.#resolve = resolve;
    this.signal = signal;
    this.deadline = started + timeoutMs;
  }

  // ---- undici's handler interface ---------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.#gaveUp) abort(this.#gaveUp);
    else this.#abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    // 1xx informational responses come first; the final status is the last one.
    this.#status = statusCode;
    return true;
  }

  onData(): boolean {
    // Read and discarded: the whole body is part of the latency and frees the connection.
    return true;
  }

  onComplete(): void {
    if (this.#settled) return;
    const status = this.#status;
    const { clock, expect } = this.#shared;
    const latencyMs = clock.now() - this.#started;
    const result: ProbeResult = inRanges(status, expect) ? { ok: true, latencyMs } : { ok: false, latencyMs, reason: `status_${status}` };
    this.#settled = true;
    this.#shared.inflight.remove(this);
    if (this.#shared.releasesAtOnce) {
      this.#resolve(result);
      return;
    }
    // With pipelining 1, undici hands a kept-alive socket back to the pool one event-loop turn after
    // the response ends (a setImmediate it schedules just after this call returns). Resolving after
    // that turn keeps this execution's slot until its connection is reusable, so back-to-back
    // executions reuse it instead of opening more. The microtask runs once undici has scheduled its
    // turn, so ours comes after it.
    queueMicrotask(() => clock.soon(() => this.#resolve(result)));
  }

  onError(err: Error): void {
    if (this.#settled) return;
    const latencyMs = this.#shared.clock.now() - this.#started;
    const reason = this.signal?.aborted ? 'aborted' : classifyNetError(err);
    this.#finish({ ok: false, latencyMs, reason });
  }

  // ---- the probe's own endings ------------------------------------------------------------------

  /** The deadline passed: a timeout, whatever undici is doing (a request still queued for a connect too). */
  expire(): void {
    this.#giveUp({ ok: false, latencyMs: this.#shared.clock.now() - this.#started, reason: 'timeout' }, TIMEOUT_REASON);
  }

  /** The caller stopped: aborted at once. */
  stop(): void {
    const reason: unknown = this.signal?.reason;
    this.#giveUp({ ok: false, latencyMs: this.#shared.clock.now() - this.#started, reason: 'aborted' }, reason instanceof Error ? reason : new Error('aborted'));
  }

  /**
   * Settles now and ends the request: at once when it is on a connection, else when undici gets to
   * it (a request still waiting for a connection is left to the pool, which fails it when it
   * connects or is destroyed; waiting for that would hold a stop for the connect timeout).
   */
  #giveUp(result: ProbeResult, reason: Error): void {
    if (this.#settled) return;
    this.#finish(result);
    this.#gaveUp = reason;
    this.#abort?.(reason);
  }

  #finish(result: ProbeResult): void {
    this.#settled = true;
    this.#shared.inflight.remove(this);
    this.#resolve(result);
  }
}
