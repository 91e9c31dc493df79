/**
 * The `key=value` fields of a tls test: their defaults, their parsers (each with an operator-facing
 * message) and the options they validate into.
 */
import net from 'node:net';
import { quoteValue } from '../redact.js';
import { readCaFile, type CaFile } from './ca-file.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ProbeType } from './probe.js';
import { isHostName, parseTarget } from './target.js';

/** Validated options of one tls test; plain data, so two lines' options can be compared. */
export interface TlsProbeOptions {
  /** The host to connect to: a name, or an IP literal (IPv6 without brackets). */
  host: string;
  /** The TCP port. */
  port: number;
  /** The name sent as SNI and checked against the certificate; undefined for an IP target without `servername=` (the IP is checked). */
  servername: string | undefined;
  /** Fewest days the leaf certificate may have left before the execution fails `expiring`. Default 14. */
  minDays: number;
  /** Certificates trusted beside Node's bundled roots. Default none. */
  ca: CaFile | undefined;
  /** How long one execution may take (connect and handshake), ms. Default 10 s, at most 5 m. */
  timeoutMs: number;
}

/** Default execution timeout of a tls test. */
export const DEFAULT_TLS_TIMEOUT_MS = 10_000;
/** Longest execution timeout a tls test may set. */
export const MAX_TLS_TIMEOUT_MS = 5 * 60_000;
/** Default `min_days`: two weeks' warning before a certificate expires. */
export const DEFAULT_TLS_MIN_DAYS = 14;
/** Default cap on executions of one tls test in flight at once. */
export const DEFAULT_TLS_CONCURRENCY = 100;

const EXAMPLE = 'e.g. example.com:443, 192.0.2.1:443 or [2001:db8::1]:443';

/** The SNI name: a DNS name (RFC 6066 carries no IP address in SNI). */
function parseServername(raw: string): Parsed<string> {
  const text = raw.trim();
  if (net.isIP(text.replace(/^\[|\]$/g, '')) !== 0) {
    return { error: `must be a host name (SNI carries no IP address; an IP target is checked against the certificate's IP entries), got ${quoteValue(text)}` };
  }
  if (!isHostName(text)) return { error: `expected a host name such as example.com, got ${quoteValue(text)}` };
  return { value: text.toLowerCase().replace(/\.$/, '') };
}

/** A whole or decimal number of days, at least 0. */
function parseMinDays(raw: string): Parsed<number> {
  const text = raw.trim();
  if (!/^(?:\d+(?:\.\d+)?|\.\d+)$/.test(text)) {
    return { error: `expected a number of days of 0 or more, e.g. 14 or 0.5, got ${quoteValue(text)}` };
  }
  const days = Number(text);
  if (!Number.isFinite(days)) return { error: `is too large, got ${quoteValue(text)}` };
  return { value: days };
}

const parseFields = paramsParser({
  type: 'tls',
  shape: {
    target: field((raw) => parseTarget(raw, { example: EXAMPLE }), 'is required, e.g. target=example.com:443'),
    servername: field(parseServername).optional(),
    min_days: field(parseMinDays).default(DEFAULT_TLS_MIN_DAYS),
    ca: field(readCaFile).optional(),
    timeout: timeoutField({ defaultMs: DEFAULT_TLS_TIMEOUT_MS, maxMs: MAX_TLS_TIMEOUT_MS }),
  },
});

/** Validates a tls line's key=value fields, reporting every problem at once. */
export const parseTlsParams: ProbeType<TlsProbeOptions>['parse'] = (params) => {
  const result = parseFields(params);
  if (!result.ok) return result;
  const { target, servername, min_days, ca, timeout } = result.data;
  const isName = net.isIP(target.host) === 0;
  const options: TlsProbeOptions = {
    host: target.host,
    port: target.port,
    servername: servername ?? (isName ? target.host.replace(/\.$/, '') : undefined),
    minDays: min_days,
    ca,
    timeoutMs: timeout,
  };
  return { ok: true, options, timeoutMs: timeout };
};
