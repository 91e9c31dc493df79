/**
 * One Graphite plaintext connection for `canihaz replay`: connect, write with backpressure, end our
 * side and wait for the server to close its side (plaintext has no acknowledgement: that close is the
 * only sign it read everything). Unlike the run's sink it never queues, drops or reconnects: every
 * failure is an `UploadError` in words, and every wait (connect, the server taking more data, its
 * close) is bounded by `timeoutMs`.
 */
import net from 'node:net';
import type { Cancel, Clock } from '../clock.js';
import { createHostResolver, lookupVia, type HostResolver } from '../net/resolve.js';

/** Why a replay could not deliver, in words (without the destination, which the caller names). */
export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadError';
  }
}

export interface UploadOptions {
  /** IPv6 bare (`::1`); a name is resolved as the run's sinks resolve it (/etc/hosts, then DNS). */
  host: string;
  port: number;
  clock: Clock;
  /** Bound on the connect, on each wait for the server to take more data, and on its close, ms. */
  timeoutMs: number;
  /** Default: a private resolver, cancelled when the upload ends. */
  resolver?: HostResolver;
}

/** An open connection to a Graphite server. */
export interface GraphiteUpload {
  /**
   * Writes `text` (whole lines, `points` of them); resolves once the socket can take more. Rejects
   * with an UploadError when the connection fails or the server takes nothing for `timeoutMs`.
   */
  write(text: string, points: number): Promise<void>;
  /** Ends our side and waits (bounded) for the server to close its side; rejects with an UploadError when it does not. */
  finish(): Promise<void>;
  /** Points the kernel has taken (handed to the network; the server may have read fewer). */
  readonly written: number;
  /** Closes the connection at once. Idempotent. */
  destroy(): void;
}

/** What a socket error code means, in words. */
const ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server down, or is this the wrong port?)',
  ECONNRESET: 'the connection was reset by the server',
  EPIPE: 'the server closed the connection',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
};

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { name?: string };
  // The resolver's own words: "cannot resolve web-1: not found".
  if (e?.name === 'HostLookupError') return e.message;
  return ERRORS[e?.code ?? ''] ?? `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`;
}

const seconds = (ms: number) => `${ms / 1000} s`;

/** Connects to `host:port` within `timeoutMs`; rejects with an UploadError. */
export async function openGraphiteUpload(options: UploadOptions): Promise<GraphiteUpload> {
  const { clock, timeoutMs } = options;
  const resolver = options.resolver ?? createHostResolver({ clock, timeoutMs: Math.min(timeoutMs, 5_000) });
  const socket = net.connect({ host: options.host, port: options.port, lookup: lookupVia(resolver) });
  socket.setNoDelay(true);
  let failure: UploadError | undefined;
  /** Wakes the one wait in progress (connect, drain or close) with the failure, if any. */
  let wake: (() => void) | undefined;
  const fail = (message: string) => {
    failure ??= new UploadError(message);
    socket.destroy();
    wake?.();
  };
  let serverEnded = false;
  let ending = false;
  socket.on('error', (err) => fail(describe(err)));
  socket.on('end', () => {
    serverEnded = true;
    if (!ending) fail('the server closed the connection before everything was sent');
  });
  socket.on('close', () => wake?.());

  /** Waits until `done()` or a failure, at most `timeoutMs`; then `onTimeout` is the failure. */
  const waitFor = (events: string[], done: () => boolean, onTimeout: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let timer: Cancel | undefined;
      const settle = () => {
        if (!failure && !done()) return;
        timer?.();
        for (const e of events) socket.off(e, settle);
        wake = undefined;
        if (failure) reject(failure);
        else resolve();
      };
      wake = settle;
      for (const e of events) socket.on(e, settle);
      timer = clock.after(timeoutMs, () => fail(onTimeout));
      settle();
    });

  let connected = false;
  socket.once('connect', () => (connected = true));
  try {
    await waitFor(['connect'], () => connected, `no connection within ${seconds(timeoutMs)} (--timeout)`);
  } finally {
    if (options.resolver === undefined) resolver.cancel();
  }

  let written = 0;
  let drained = true;
  socket.on('drain', () => (drained = true));
  return {
    async write(text, points) {
      if (failure) throw failure;
      const more = socket.write(text, (err) => {
        if (!err) written += points;
      });
      if (more) return;
      drained = false;
      await waitFor(['drain'], () => drained, `the server took nothing for ${seconds(timeoutMs)} (--timeout): it accepts but does not read`);
    },
    async finish() {
      if (failure) throw failure;
      ending = true;
      socket.end();
      await waitFor(
        ['close'],
        () => socket.destroyed && serverEnded,
        `the server did not close its side within ${seconds(timeoutMs)} (--timeout) of ours, so it may not have read everything`,
      );
    },
    get written() {
      return written;
    },
    destroy() {
      socket.destroy();
    },
  };
}
