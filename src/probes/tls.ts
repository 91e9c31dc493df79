/**
 * The `tls` probe type: one TCP connect and TLS handshake per execution, the peer's certificate
 * verified (against Node's roots plus the line's `ca=`) and its days to expiry reported as the gauge
 * `days_left`. Its fields are in tls-params.ts.
 */
import net from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { Clock } from '../clock.js';
import type { FailureReason, ProbeResult, Sample } from '../events.js';
import { fdLimitCode, limitHit } from '../limits.js';
import type { Logger } from '../log.js';
import { createHostResolver, type HostResolver } from '../net/resolve.js';
import { whenAborted } from './abort-waiters.js';
import { secureContextWithCa } from './ca-file.js';
import { classifyNetError } from './net-errors.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';
import { DEFAULT_TLS_CONCURRENCY, parseTlsParams, type TlsProbeOptions } from './tls-params.js';

const DAY_MS = 86_400_000;

/** How one execution ended, before it becomes a ProbeResult. */
type Outcome =
  | { kind: 'aborted' | 'timeout' }
  | { kind: 'dns'; code: string }
  | { kind: 'error'; error: unknown }
  | { kind: 'handshake'; socket: TLSSocket; latencyMs: number };

/** A tls probe: a fresh connection and handshake per execution (no session resumption), closed at once. */
class TlsProbe implements Probe {
  readonly #options: TlsProbeOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #test: string;
  readonly #resolver: HostResolver;
  /** Whether the resolver is this probe's own (cancelled in close) rather than its creator's. */
  readonly #ownResolver: boolean;
  readonly #secureContext: SecureContext | undefined;
  readonly #where: string;
  #closed = false;

  constructor(options: TlsProbeOptions, context: ProbeContext, resolver: HostResolver | undefined) {
    this.#options = options;
    this.#clock = context.clock;
    this.#logger = context.logger;
    this.#test = context.test;
    this.#ownResolver = resolver === undefined;
    this.#resolver = resolver ?? createHostResolver({ clock: context.clock });
    this.#secureContext = options.ca ? secureContextWithCa(options.ca.pem) : undefined;
    this.#where = net.isIPv6(options.host) ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const clock = this.#clock;
    const started = clock.now();
    if (signal.aborted || this.#closed) return { ok: false, latencyMs: 0, reason: 'aborted' };
    // The first of: the handshake's end, a failure, the stop, the timeout. Whatever is still under
    // way then (a lookup, a connect) is abandoned and its socket destroyed in `finally`.
    let settle!: (outcome: Outcome) => void;
    const settled = new Promise<Outcome>((resolve) => (settle = resolve));
    const stopWaiting = whenAborted(signal, () => settle({ kind: 'aborted' }));
    const cancelTimer = clock.after(this.#options.timeoutMs, () => settle({ kind: 'timeout' }));
    const attempt: { socket?: TLSSocket; over: boolean } = { over: false };
    try {
      void this.#connect(started, attempt, settle);
      const outcome = await settled;
      const latencyMs = clock.now() - started;
      switch (outcome.kind) {
        case 'aborted':
        case 'timeout':
          return { ok: false, latencyMs, reason: outcome.kind };
        case 'dns':
          this.#logger.debug('tls probe: cannot resolve the target', { test: this.#test, target: this.#where, code: outcome.code });
          return { ok: false, latencyMs, reason: 'dns' };
        case 'error':
          return { ok: false, latencyMs, reason: this.#failed(outcome.error) };
      }
      return this.#verdict(outcome.socket, outcome.latencyMs);
    } catch (err) {
      // A bug, not a target's fault: still a result, never a throw.
      this.#logger.debug('tls probe: unexpected error', { test: this.#test, target: this.#where, error: String(err) });
      return { ok: false, latencyMs: clock.now() - started, reason: 'other' };
    } finally {
      attempt.over = true;
      cancelTimer();
      stopWaiting();
      attempt.socket?.destroy();
    }
  }

  /** Resolves the host, connects and shakes hands, settling with how it went. Never rejects. */
  async #connect(started: number, attempt: { socket?: TLSSocket; over: boolean }, settle: (outcome: Outcome) => void): Promise<void> {
    const { host, port, servername } = this.#options;
    let address = host;
    if (net.isIP(host) === 0) {
      const resolved = await this.#resolver.resolve(host);
      if (attempt.over) return;
      if (!resolved.ok) return settle({ kind: 'dns', code: resolved.code });
      address = resolved.address;
    }
    // Verification is done here, after the handshake (rejectUnauthorized off), so the certificate
    // is seen, and its days counted, even when it fails. Node checks the identity against
    // `servername` when set, else against `host` (the IP literal): tls.connect is handed both.
    const socket = tls.connect({
      host: address,
      port,
      ...(servername === undefined ? {} : { servername }),
      ...(this.#secureContext ? { secureContext: this.#secureContext } : {}),
      rejectUnauthorized: false,
    });
    attempt.socket = socket;
    socket.on('error', (error) => settle({ kind: 'error', error }));
    socket.once('secureConnect', () => settle({ kind: 'handshake', socket, latencyMs: this.#clock.now() - started }));
    // Node reports a close before the handshake as an error first; this only backs that up.
    socket.once('close', () => settle({ kind: 'error', error: Object.assign(new Error('connection closed before the TLS handshake ended'), { code: 'ECONNRESET' }) }));
  }

  /** The reason for a connect or handshake error; a TLS failure's code goes to the debug log. */
  #failed(error: unknown): FailureReason {
    const reason = classifyNetError(error);
    const code = (error as { code?: unknown }).code;
    const limit = fdLimitCode(error);
    if (limit) limitHit(limit, { where: 'tls connect' });
    if (reason === 'tls' || reason === 'other') {
      this.#logger.debug('tls probe: handshake failed', { test: this.#test, target: this.#where, code: typeof code === 'string' ? code : undefined, error: error instanceof Error ? error.message : String(error) });
    }
    return reason;
  }

  /** The result of a completed handshake: verification, then expiry; `days_left` whenever a certificate came. */
  #verdict(socket: TLSSocket, latencyMs: number): ProbeResult {
    const cert = socket.getPeerCertificate();
    const validTo = cert && typeof cert.valid_to === 'string' ? Date.parse(cert.valid_to) : NaN;
    const samples: Sample[] = [];
    let daysLeft: number | undefined;
    if (Number.isFinite(validTo)) {
      daysLeft = Math.round(((validTo - this.#clock.wallNow()) / DAY_MS) * 100) / 100;
      samples.push({ name: 'days_left', kind: 'gauge', value: daysLeft });
    }
    const fail = (reason: FailureReason): ProbeResult => ({ ok: false, latencyMs, reason, ...(samples.length ? { samples } : {}) });
    if (!socket.authorized) {
      // Typed as an Error, but Node sets the verification error's code (a string) here.
      const error = socket.authorizationError as unknown;
      const code = typeof error === 'string' ? error : error instanceof Error ? ((error as { code?: string }).code ?? error.message) : 'unknown';
      this.#logger.debug('tls probe: certificate not accepted', { test: this.#test, target: this.#where, code });
      return fail('tls');
    }
    if (daysLeft === undefined) {
      this.#logger.debug('tls probe: the certificate has no readable expiry date', { test: this.#test, target: this.#where });
      return fail('tls');
    }
    if (daysLeft < this.#options.minDays) return fail('expiring');
    return { ok: true, latencyMs, samples };
  }

  /** Abandons lookups still pending; executions in flight end through their own signal or timer. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#ownResolver) this.#resolver.cancel();
  }
}

/**
 * Builds a tls probe from validated options, timed on `context.clock`, logging to `context.logger`.
 * Its target's host name is resolved by `resolver` (its owner cancels it), or by default by a
 * resolver of the probe's own, cancelled when the probe closes.
 */
export function createTlsProbe(options: TlsProbeOptions, context: ProbeContext, resolver?: HostResolver): Probe {
  return new TlsProbe(options, context, resolver);
}

/** The `tls` probe type. */
export const tlsProbeType: ProbeType<TlsProbeOptions> = {
  name: 'tls',
  defaultConcurrency: DEFAULT_TLS_CONCURRENCY,
  parse: parseTlsParams,
  create: (options, context) => createTlsProbe(options, context),
};
