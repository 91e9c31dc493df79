/**
 * The `key=value` fields of a tcp test: their defaults, their parsers (operator-facing messages that
 * never echo `send=` or `expect=`, which may hold a secret) and the options they validate into.
 */
import net from 'node:net';
import { quoteValue } from '../redact.js';
import { parseEscapes } from './escapes.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ProbeType } from './probe.js';

/** Validated options of one tcp test; plain data, so two lines' options can be compared. */
export interface TcpProbeOptions {
  /** The host name or IP address to connect to (an IPv6 address without its brackets). Required. */
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
/** A host name: dot-separated labels of letters, digits, `-` and `_` (as in SRV-style names), an optional final dot. */
const HOST_NAME = /^(?=.{1,254}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function parsePort(text: string, raw: string): Parsed<number> {
  if (text === '') return { error: `expected host:port with a port after the colon, got ${quoteValue(raw)}; ${EXAMPLE}` };
  if (!/^\d+$/.test(text)) return { error: `port must be a number 1-65535, got ${quoteValue(text)}` };
  const port = Number(text);
  if (port < 1 || port > 65_535) return { error: `port must be 1-65535, got ${quoteValue(text)}` };
  return { value: port };
}

function parseTarget(raw: string): Parsed<{ host: string; port: number }> {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw)) return { error: `expected host:port without a scheme, got ${quoteValue(raw)}; ${EXAMPLE}` };
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(raw);
  if (bracketed) {
    const [, address = '', portText] = bracketed;
    if (net.isIPv6(address) === false) return { error: `expected an IPv6 address inside [ ], got ${quoteValue(address)}; ${EXAMPLE}` };
    if (portText === undefined) return { error: `expected [IPv6]:port, got ${quoteValue(raw)}; ${EXAMPLE}` };
    const port = parsePort(portText, raw);
    return 'error' in port ? port : { value: { host: address, port: port.value } };
  }
  const colon = raw.lastIndexOf(':');
  if (colon < 0) return { error: `expected host:port, got ${quoteValue(raw)}; ${EXAMPLE}` };
  const host = raw.slice(0, colon);
  if (host.includes(':')) return { error: `an IPv6 address goes in brackets, e.g. target=[::1]:6379, got ${quoteValue(raw)}` };
  if (host === '') return { error: `expected host:port with a host before the colon, got ${quoteValue(raw)}; ${EXAMPLE}` };
  if (net.isIPv4(host) === false && (!HOST_NAME.test(host) || /^[\d.]+$/.test(host))) {
    return { error: `expected a host name or IPv4 address before the colon, got ${quoteValue(host)}; ${EXAMPLE}` };
  }
  const port = parsePort(raw.slice(colon + 1), raw);
  return 'error' in port ? port : { value: { host, port: port.value } };
}

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
    target: field(parseTarget, `is required, ${EXAMPLE}`),
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
