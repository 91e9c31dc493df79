import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { describeChar, quotePrefix, quoteValue, redactUrl } from '../config/redact.js';
import type { FailureReason, ParamIssue, Probe, ProbeParams, ProbeResult, ProbeType, ZodIssueList } from './probe.js';
import type { HostResolver } from '../net/resolve.js';
import { leasePool, type PoolLease } from './http-pools.js';

/** An inclusive range of HTTP status codes that count as success. */
export interface StatusRange {
  min: number;
  max: number;
}

/** Validated options of one http test; plain data, so two lines' options can be compared. */
export interface HttpProbeOptions {
  /** The absolute `http:` or `https:` URL requested (normalised, without fragment). Required. */
  url: string;
  /** The request method, upper-cased. Default `GET`. */
  method: string;
  /** How long one execution may take, connect to last body byte, in ms. Default 10 s, at most 5 m. */
  timeoutMs: number;
  /** Statuses that count as success. Default 200-399. */
  expect: StatusRange[];
  /** Extra request headers in the order given, names as written. Default none. */
  headers: [name: string, value: string][];
  /** The request body, sent as given. Default none. */
  body: string | undefined;
}

/** Default execution timeout of an http test. */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
/** Longest execution timeout an http test may set. */
export const MAX_HTTP_TIMEOUT_MS = 5 * 60_000;
/** Default statuses that count as success: 2xx and 3xx (redirects are not followed). */
export const DEFAULT_HTTP_EXPECT: readonly StatusRange[] = [{ min: 200, max: 399 }];
/** Default cap on executions of one http test in flight at once. */
export const DEFAULT_HTTP_CONCURRENCY = 100;

const SINGLE_KEYS = ['url', 'method', 'timeout', 'expect', 'body'] as const;
const REPEATABLE_KEYS = ['header'] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set([...SINGLE_KEYS, ...REPEATABLE_KEYS]);
const UNKNOWN_KEY_MESSAGE = 'unknown key; http accepts url, method, timeout, expect, header, body, concurrency';

/** RFC 9110 `token`: what a method or header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters undici refuses in a header value (everything but tab, visible ASCII and obs-text). */
const HEADER_VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers undici sets itself or refuses; a line that sets one would fail on every execution. */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['content-length', 'Content-Length is computed from body; remove it'],
  ['transfer-encoding', 'Transfer-Encoding cannot be set; the body is sent with a Content-Length'],
  ['keep-alive', 'Keep-Alive cannot be set; connections are kept alive already'],
  ['upgrade', 'Upgrade cannot be set on an http test'],
  ['expect', 'Expect cannot be set on an http test'],
]);

type Parsed<T> = { value: T } | { error: string };

function parseUrl(raw: string): Parsed<string> {
  const bad = { error: `expected an absolute http:// or https:// URL, got ${quoteValue(redactUrl(raw))}` };
  if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw)) return bad;
  const url = new URL(raw);
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return bad;
  if (url.username !== '' || url.password !== '') {
    return { error: 'credentials in the URL are not sent; use header=Authorization: Basic … instead' };
  }
  url.hash = '';
  return { value: url.href };
}

function parseMethod(raw: string): Parsed<string> {
  if (!TOKEN.test(raw)) return { error: `expected an HTTP method such as GET, POST or HEAD, got ${quoteValue(raw)}` };
  const method = raw.toUpperCase();
  if (method === 'CONNECT') return { error: 'CONNECT is not supported' };
  return { value: method };
}

function parseTimeout(raw: string): Parsed<number> {
  const ms = parseDuration(raw);
  if (typeof ms !== 'number') return ms;
  if (ms > MAX_HTTP_TIMEOUT_MS) return { error: `must be at most 5m, got ${quoteValue(raw)}` };
  return { value: ms };
}

function parseStatus(text: string): number | undefined {
  const code = Number(text);
  return code >= 100 && code <= 599 ? code : undefined;
}

function parseExpect(raw: string): Parsed<StatusRange[]> {
  const ranges: StatusRange[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const cls = /^([1-5])xx$/i.exec(part);
    const range = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (cls) {
      const min = Number(cls[1]) * 100;
      ranges.push({ min, max: min + 99 });
    } else if (range) {
      const min = parseStatus(range[1]!);
      const max = parseStatus(range[2] ?? range[1]!);
      if (min === undefined || max === undefined) return { error: `status codes are 100-599, got ${quoteValue(part)}` };
      if (min > max) return { error: `range ${quoteValue(part)} runs backwards; write ${range[2]}-${range[1]}` };
      ranges.push({ min, max });
    } else {
      return { error: `expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got ${quoteValue(raw)}` };
    }
  }
  return { value: ranges };
}

/** Header values may be credentials: messages name the header, never quote its value. */
function parseHeader(raw: string): Parsed<[string, string]> {
  const colon = raw.indexOf(':');
  if (colon <= 0) return { error: `expected "Name: Value", got ${quotePrefix(raw)}` };
  const name = raw.slice(0, colon);
  const value = raw.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (!TOKEN.test(name)) {
    const at = [...name].findIndex((ch) => !TOKEN.test(ch));
    return {
      error: `header name must be letters, digits or !#$%&'*+-.^_\`|~ with no spaces, got ${quotePrefix(name)} (${describeChar([...name][at]!)} at character ${at + 1})`,
    };
  }
  if (/[\r\n]/.test(value)) return { error: `value of ${name} must not contain CR or LF` };
  const forbidden = HEADER_VALUE_FORBIDDEN.exec(value);
  if (forbidden) {
    return {
      error: `value of ${name} must be printable Latin-1 text (no control characters); it has ${describeChar(forbidden[0])} at character ${forbidden.index + 1} (the value is not shown)`,
    };
  }
  const refused = REFUSED_HEADERS.get(name.toLowerCase());
  if (refused) return { error: refused };
  if (name.toLowerCase() === 'connection' && !value.split(',').every((t) => TOKEN.test(t.trim()))) {
    return { error: 'Connection must be a comma list of tokens such as close' };
  }
  return { value: [name, value] };
}

/** A zod string field whose value goes through a parser that returns an operator-facing error. */
function field<T>(parse: (raw: string) => Parsed<T>, required?: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined && required ? required : undefined) })
    .transform((raw, ctx): T => {
      const parsed = parse(raw);
      if ('value' in parsed) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    });
}

const httpParamsSchema = z.object({
  url: field(parseUrl, 'is required, e.g. url=https://example.com/health'),
  method: field(parseMethod).default('GET'),
  timeout: field(parseTimeout).default(DEFAULT_HTTP_TIMEOUT_MS),
  expect: field(parseExpect).default(() => DEFAULT_HTTP_EXPECT.map((r) => ({ ...r }))),
  header: z
    .array(field(parseHeader))
    .default([])
    .superRefine((headers, ctx) => {
      if (headers.filter(([name]) => name.toLowerCase() === 'host').length > 1) {
        ctx.addIssue({ code: 'custom', message: 'Host given more than once' });
      }
    }),
  body: z.string().optional(),
});

/** Turns zod issues over a `{ key: value }` object into issues naming the key. */
function toParamIssues(issues: ZodIssueList): ParamIssue[] {
  return issues.map((issue) => ({ field: String(issue.path[0] ?? ''), message: issue.message }));
}

/** Validates an http line's key=value fields, reporting every problem at once. */
function parseHttpParams(params: ProbeParams): ReturnType<ProbeType<HttpProbeOptions>['parse']> {
  const issues: ParamIssue[] = [];
  const duplicated = new Set<string>();
  const input: Record<string, string | readonly string[]> = {};
  for (const [key, values] of params) {
    if (!KNOWN_KEYS.has(key)) {
      issues.push({ field: key, message: UNKNOWN_KEY_MESSAGE });
    } else if ((REPEATABLE_KEYS as readonly string[]).includes(key)) {
      input[key] = values;
    } else {
      if (values.length > 1) {
        duplicated.add(key);
        issues.push({ field: key, message: 'given more than once' });
      }
      if (values[0] !== undefined) input[key] = values[0];
    }
  }
  const result = httpParamsSchema.safeParse(input);
  if (!result.success) {
    issues.push(...toParamIssues(result.error.issues).filter((i) => !duplicated.has(i.field)));
  }
  if (issues.length > 0 || !result.success) {
    const order = [...params.keys()];
    const rank = (i: ParamIssue) => (order.includes(i.field) ? order.indexOf(i.field) : order.length);
    return { ok: false, issues: issues.sort((a, b) => rank(a) - rank(b)) };
  }
  const { url, method, timeout, expect, header, body } = result.data;
  const options: HttpProbeOptions = { url, method, timeoutMs: timeout, expect, headers: header, body };
  return { ok: true, options, timeoutMs: timeout };
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
/** OpenSSL certificate-verification codes that carry no `CERT` in their name. */
const TLS_VERIFY_CODES = new Set(['HOSTNAME_MISMATCH', 'INVALID_CA', 'INVALID_PURPOSE', 'PATH_LENGTH_EXCEEDED']);

/** Why a request failed, from the error's `code` (or those of its causes): the shared reasons. */
export function classifyHttpError(err: unknown): FailureReason {
  const codes = errorCodes(err);
  const has = (test: (code: string) => boolean) => codes.some(test);
  if (has((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (has((c) => c === 'ECONNREFUSED')) return 'refused';
  if (has((c) => DNS_CODES.has(c))) return 'dns';
  if (has(isTlsCode) || isOpenSslError(err)) return 'tls';
  if (has((c) => RESET_CODES.has(c))) return 'reset';
  return 'other';
}

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT') || TLS_VERIFY_CODES.has(code);
}

/** OpenSSL errors carry `library` (e.g. "SSL routines") even when their code is generic. */
function isOpenSslError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'library' in err && typeof err.library === 'string';
}

/** The `code` of an error and of everything it wraps (`cause`, AggregateError `errors`). */
function errorCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const codes: string[] = [];
  if ('code' in err && typeof err.code === 'string') codes.push(err.code);
  if ('cause' in err) codes.push(...errorCodes(err.cause, depth + 1));
  if (err instanceof AggregateError) for (const inner of err.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

function inRanges(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.min && status <= r.max);
}

/** Callbacks waiting on each caller signal, behind one real listener per signal. */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `onAbort` when `signal` aborts; returns the way to stop waiting. Every execution of every
 * test waits on the run's one signal: EventTarget walks its whole listener list on each add and
 * remove (63 ms per thousand executions with 10,000 in flight), a Set does not.
 */
function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (!waiters) {
    const set = new Set<() => void>();
    waiters = set;
    abortWaiters.set(signal, set);
    signal.addEventListener('abort', () => {
      for (const f of [...set]) f();
      set.clear();
    }, { once: true });
  }
  const mine = waiters;
  mine.add(onAbort);
  return () => mine.delete(onAbort);
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
  #closing: Promise<void> | undefined;

  constructor(options: HttpProbeOptions, resolver: HostResolver | undefined) {
    this.#options = options;
    const url = new URL(options.url);
    this.#path = url.pathname + url.search;
    this.#headers = options.headers.flat();
    this.#lease = leasePool({ origin: url.origin, connectTimeoutMs: options.timeoutMs, ...(resolver ? { resolver } : {}) });
  }

  /**
   * Opens one connection (TCP, and TLS for https) for this origin before the window starts, so the
   * first tick does not also pay for the handshake and lands on time. Sends no request; never rejects.
   */
  prepare(): Promise<void> {
    return this.#closing ? Promise.resolve() : this.#lease.prepare();
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const started = performance.now();
    if (signal.aborted) return { ok: false, latencyMs: 0, reason: 'aborted' };
    // The execution ends itself on a stop or at its timeout, whatever undici is doing: a request
    // still waiting for a connection (a target whose connects hang) is aborted by undici only once
    // connected, so awaiting it would hold a stop for the connect timeout. The request is left to
    // the pool, which fails it when it connects or is destroyed. The timer and the wait on the
    // caller's signal end in `finally`, so nothing accumulates on the long-lived caller signal.
    const controller = new AbortController();
    let stopWaiting!: () => void;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'aborted' | 'timeout'>((resolve) => {
      stopWaiting = whenAborted(signal, () => {
        controller.abort(signal.reason);
        resolve('aborted');
      });
      timer = setTimeout(() => {
        controller.abort(new Error('http probe timeout'));
        resolve('timeout');
      }, this.#options.timeoutMs);
    });
    try {
      const outcome = await Promise.race([this.#exchange(controller.signal, started), gaveUp]);
      if (typeof outcome === 'string') return { ok: false, latencyMs: performance.now() - started, reason: outcome };
      if ('error' in outcome) {
        const latencyMs = performance.now() - started;
        if (signal.aborted) return { ok: false, latencyMs, reason: 'aborted' };
        if (controller.signal.aborted) return { ok: false, latencyMs, reason: 'timeout' };
        return { ok: false, latencyMs, reason: classifyHttpError(outcome.error) };
      }
      const { status, latencyMs } = outcome;
      if (inRanges(status, this.#options.expect)) return { ok: true, latencyMs };
      return { ok: false, latencyMs, reason: `status_${status}` };
    } finally {
      clearTimeout(timer);
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
      const latencyMs = performance.now() - started;
      // With pipelining 1, undici hands a kept-alive socket back to the pool only one event-loop
      // turn after the response ends. Resolving after that turn keeps this execution's slot until
      // its connection is reusable, so back-to-back executions reuse it instead of opening more.
      await nextLoopTurn();
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
 * Builds an http probe from validated options. Its target's host name is resolved by `resolver`
 * (its owner cancels it), or by default by the connection pools' own resolver, once per run.
 */
export function createHttpProbe(options: HttpProbeOptions, resolver?: HostResolver): Probe {
  return new HttpProbe(options, resolver);
}

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
export function warmUpHttp(): Promise<void> {
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

/** The `http` probe type (serves `https://` URLs too). */
export const httpProbeType: ProbeType<HttpProbeOptions> = {
  name: 'http',
  defaultConcurrency: DEFAULT_HTTP_CONCURRENCY,
  parse: parseHttpParams,
  create: (options) => createHttpProbe(options),
  prepare: warmUpHttp,
};
