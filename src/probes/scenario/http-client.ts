/**
 * `ctx.http`: requests on the shared keep-alive pools (http-pools.ts), one lease per test and origin
 * held until the test's probe closes. Every body is read to its end before the request resolves (at
 * most MAX_BODY_BYTES kept, the rest discarded), so a connection is free again whatever the module
 * does with the response.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpClient, HttpRequestOptions, HttpResponse } from '../../../types/scenario.js';
import type { Clock } from '../../clock.js';
import { redactUrl } from '../../redact.js';
import { leasePool, type PoolLease } from '../http-pools.js';
import { classifyNetError } from '../net-errors.js';

/** Most bytes of a response body `text()` and `json()` see; the rest is read and discarded. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most origins one test's module may talk to in a run (one pool lease each). */
export const MAX_ORIGINS = 64;

/** RFC 9110 `token`: what a method may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A failure of `ctx.http` or `ctx.ws`, its `reason` one of the shared ones. */
export class ScenarioRequestError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScenarioRequestError';
    this.reason = reason;
  }
}

/** A response with its body in hand. */
class BufferedResponse implements HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly #chunks: Buffer[];
  #text: string | undefined;

  constructor(status: number, headers: IncomingHttpHeaders, chunks: Buffer[]) {
    this.status = status;
    this.headers = headers;
    this.#chunks = chunks;
  }

  #decoded(): string {
    if (this.#text === undefined) {
      const chunks = this.#chunks;
      this.#text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    }
    return this.#text;
  }

  text(): Promise<string> {
    return Promise.resolve(this.#decoded());
  }

  json<T = unknown>(): Promise<T> {
    try {
      return Promise.resolve(JSON.parse(this.#decoded()) as T);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** One test's HTTP: its pool leases by origin, released by `close()`. */
export class ScenarioHttp {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #leases = new Map<string, PoolLease>();
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** The `ctx.http` of an execution (or of setup, teardown): every request honours `signal`. */
  client(signal: AbortSignal): HttpClient {
    return { request: (url, options) => this.request(url, options, signal) };
  }

  async request(url: string | URL, options: HttpRequestOptions | undefined, signal: AbortSignal): Promise<HttpResponse> {
    const target = checkUrl(url);
    const method = (options?.method ?? 'GET').toUpperCase();
    if (!TOKEN.test(method) || method === 'CONNECT') throw new ScenarioRequestError('other', `ctx.http.request: bad method ${JSON.stringify(method.slice(0, 40))}`);
    const what = `${method} ${redactUrl(target.href)}`;
    if (signal.aborted) throw new ScenarioRequestError(signal.reason === TIMEOUT ? 'timeout' : 'aborted', `${what}: the execution has ended`);
    const lease = this.#lease(target.origin, what);
    let chunks: Buffer[];
    let status: number;
    let headers: IncomingHttpHeaders;
    try {
      const response = await lease.pool.request({
        path: target.pathname + target.search,
        method,
        headers: flatHeaders(options?.headers),
        body: options?.body ?? null,
        signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      status = response.statusCode;
      headers = response.headers;
      chunks = [];
      let kept = 0;
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        if (kept >= MAX_BODY_BYTES) continue;
        const room = MAX_BODY_BYTES - kept;
        chunks.push(buffer.length <= room ? buffer : buffer.subarray(0, room));
        kept += Math.min(buffer.length, room);
      }
    } catch (err) {
      const reason = signal.aborted ? (signal.reason === TIMEOUT ? 'timeout' : 'aborted') : classifyNetError(err);
      throw new ScenarioRequestError(reason, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // With pipelining 1, undici hands a kept-alive socket back to the pool one event-loop turn after
    // the response ends (see http.ts): resolving after that turn lets the module's next request reuse it.
    await new Promise<void>((resolve) => this.#clock.soon(resolve));
    return new BufferedResponse(status, headers, chunks);
  }

  #lease(origin: string, what: string): PoolLease {
    if (this.#closed) throw new ScenarioRequestError('aborted', `${what}: the test has ended`);
    let lease = this.#leases.get(origin);
    if (!lease) {
      if (this.#leases.size >= MAX_ORIGINS) throw new ScenarioRequestError('other', `${what}: more than ${MAX_ORIGINS} origins in one test`);
      lease = leasePool({ origin, connectTimeoutMs: this.#timeoutMs });
      this.#leases.set(origin, lease);
    }
    return lease;
  }

  /** Gives back every lease (the last holder of an origin's pool destroys it). */
  async close(): Promise<void> {
    this.#closed = true;
    const leases = [...this.#leases.values()];
    this.#leases.clear();
    await Promise.all(leases.map((l) => l.release()));
  }
}

/** The abort reason of a signal aborted by a timeout, so a request failing on it says `timeout`. */
export const TIMEOUT: Error = Object.freeze(new Error('scenario timeout'));

function checkUrl(url: string | URL): URL {
  let target: URL;
  try {
    target = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    throw new ScenarioRequestError('other', `ctx.http.request: expected an absolute http:// or https:// URL, got ${JSON.stringify(redactUrl(String(url)).slice(0, 100))}`);
  }
  if ((target.protocol !== 'http:' && target.protocol !== 'https:') || target.hostname === '') {
    throw new ScenarioRequestError('other', `ctx.http.request: expected an absolute http:// or https:// URL, got ${JSON.stringify(redactUrl(target.href).slice(0, 100))}`);
  }
  if (target.username !== '' || target.password !== '') {
    throw new ScenarioRequestError('other', 'ctx.http.request: credentials in the URL are not sent; send an Authorization header instead');
  }
  return target;
}

/** Headers as undici's flat list, a list value sent once per item. */
function flatHeaders(headers: HttpRequestOptions['headers']): string[] | null {
  if (!headers) return null;
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') flat.push(name, value);
    else for (const v of value) flat.push(name, String(v));
  }
  return flat;
}
