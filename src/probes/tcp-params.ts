/**
 * The `key=value` fields of a tcp test: their defaults, their parsers (operator-facing messages that
 * never echo `send=` or `expect=`, which may hold a secret) and the options they validate into.
 */
import { parseEscapes } from './escapes.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ProbeType } from './probe.js';
import { parseTarget } from './target.js';

/** Validated options of one tcp test; plain data, so two lines' options can be compared. */
export interface TcpProbeOptions {
  /** The host name (lower case) or IP address to connect to (an IPv6 address without its brackets). Required. */
  host: string;
  /** The TCP port, 1-65535. Required. */
  port: number;
  /** Bytes written once connected (escapes decoded). Default none: the execution is the connect. */
  send: Buffer | undefined;
  /** Bytes that must arrive (anywhere in the first MAX_TCP_READ_BYTES) before the timeout. Default none. */
  expect: Buffer | undefined;
  /** How long one execution may take, resolution to match, in ms. Default 10 s, at most 5 m. */
  timeoutMs: number;
}

/** Default execution timeout of a tcp test. */
export const DEFAULT_TCP_TIMEOUT_MS = 10_000;
/** Longest execution timeout a tcp test may set. */
export const MAX_TCP_TIMEOUT_MS = 5 * 60_000;
/**
 * Default cap on executions of one tcp test in flight at once. As for http: each one holds a socket
 * (a file descriptor) only while it runs, and at the timeout (10 s) a test at 600/min that hangs has
 * at most 100 in flight, so the cap drops ticks only when the target hangs at a higher rate.
 */
export const DEFAULT_TCP_CONCURRENCY = 100;
/** Most bytes an execution reads while waiting for `expect`; past it the execution fails `mismatch`. */
export const MAX_TCP_READ_BYTES = 64 * 1024;

const EXAMPLE = 'e.g. target=db.example.com:5432 or target=[::1]:6379';

/** `send=` and `expect=`: escaped bytes, at least one. */
function parseBytes(raw: string): Parsed<Buffer> {
  const parsed = parseEscapes(raw);
  if ('value' in parsed && parsed.value.length === 0) return { error: 'must not be empty; leave the key out instead' };
  return parsed;
}

/** `expect=`: as `send=`, and short enough to fit in what an execution reads. */
function parseExpect(raw: string): Parsed<Buffer> {
  const parsed = parseBytes(raw);
  if ('value' in parsed && parsed.value.length > MAX_TCP_READ_BYTES) {
    return { error: `must be at most ${MAX_TCP_READ_BYTES} bytes (what an execution reads), got ${parsed.value.length}` };
  }
  return parsed;
}

const parseFields = paramsParser({
  type: 'tcp',
  shape: {
    target: field((raw) => parseTarget(raw, { example: EXAMPLE }), `is required, ${EXAMPLE}`),
    send: field(parseBytes).optional(),
    expect: field(parseExpect).optional(),
    timeout: timeoutField({ defaultMs: DEFAULT_TCP_TIMEOUT_MS, maxMs: MAX_TCP_TIMEOUT_MS }),
  },
});

/** Validates a tcp line's key=value fields, reporting every problem at once. */
export const parseTcpParams: ProbeType<TcpProbeOptions>['parse'] = (params) => {
  const result = parseFields(params);
  if (!result.ok) return result;
  const { target, send, expect, timeout } = result.data;
  const options: TcpProbeOptions = { host: target.host, port: target.port, send, expect, timeoutMs: timeout };
  return { ok: true, options, timeoutMs: timeout };
};
