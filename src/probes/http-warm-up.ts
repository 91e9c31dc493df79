/**
 * The http probe's one-time warm-up: undici's HTTP parser (a WebAssembly module, compiled lazily on
 * the first connection) and the request path, exercised against a throwaway server of our own.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { DEFAULT_HTTP_EXPECT, type HttpProbeOptions } from './http-params.js';
import type { Probe } from './probe.js';

let warmedUp: Promise<void> | undefined;
const DEFAULT_WARM_UP: Omit<HttpProbeOptions, 'url'> = {
  method: 'GET',
  timeoutMs: 1_000,
  expect: DEFAULT_HTTP_EXPECT.map((r) => ({ ...r })),
  headers: [],
  body: undefined,
};

/**
 * Compiles undici's HTTP parser (a WebAssembly module, compiled lazily on the first connection) and
 * warms the request path with one request to a throwaway server of our own on 127.0.0.1, so the
 * first real tick is not late by 20–50 ms. Sends nothing to any target; once per process; bounded.
 */
export function warmUpHttp(createHttpProbe: (options: HttpProbeOptions) => Probe): Promise<void> {
  warmedUp ??= (async () => {
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', () => socket.write('HTTP/1.1 204 No Content\r\n\r\n'));
    });
    try {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      // The probe's own path, a few times over, so the JIT has seen it before the first real tick.
      const probe = createHttpProbe({ ...DEFAULT_WARM_UP, url: `http://127.0.0.1:${port}/` });
      const signal = new AbortController().signal;
      try {
        for (let i = 0; i < 5; i++) await probe.execute(signal);
      } finally {
        await probe.close();
      }
    } catch {
      // A warm-up that fails costs only a late first tick.
    } finally {
      server.close();
    }
  })();
  return warmedUp;
}
