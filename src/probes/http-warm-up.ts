/**
 * undici's one-time warm-up, for https tests and scenario modules' `ctx.http`: its HTTP parser (a
 * WebAssembly module, compiled lazily on the first connection) and its dispatch path, exercised
 * against a throwaway server of our own on 127.0.0.1. http: tests need none: our own client
 * (http1-pool.ts) has nothing to compile, and warming it made no measurable difference to a cold
 * start (≈115 ms either way) and under 1 ms to the first ticks.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { leasePool } from './http-pools.js';

let warmedUp: Promise<void> | undefined;
const TIMEOUT_MS = 1_000;

/**
 * Compiles undici's HTTP parser and warms its dispatch path with a few requests to a throwaway
 * server of our own on 127.0.0.1, so the first real tick of an https test or a scenario module is
 * not late by 20–50 ms. Sends nothing to any target; once per process; bounded; never rejects.
 */
export function warmUpUndici(): Promise<void> {
  warmedUp ??= (async () => {
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', () => socket.write('HTTP/1.1 204 No Content\r\n\r\n'));
    });
    try {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      const lease = leasePool({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connectTimeoutMs: TIMEOUT_MS });
      // The dispatch path the http probe uses (not undici's request API, which loads more of it).
      const request = { path: '/', method: 'GET', headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS } as const;
      try {
        for (let i = 0; i < 5; i++) {
          await new Promise<void>((resolve) => {
            lease.pool.dispatch(request, { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete: () => resolve(), onError: () => resolve() });
          });
        }
      } finally {
        await lease.release();
      }
    } catch {
      // A warm-up that fails costs only a late first tick.
    } finally {
      server.close();
    }
  })();
  return warmedUp;
}
