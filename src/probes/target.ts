/**
 * The `target=host:port` field of the tcp and tls types: one grammar (a host name, an IPv4 address or
 * an IPv6 address in brackets, then a port 1-65535), one set of operator-facing messages, and the
 * host-name check they share.
 */
import net from 'node:net';
import { quoteValue } from '../redact.js';
import type { Parsed } from './params.js';

/** Where a test connects: a host name in lower case or an IP address (IPv6 without its brackets). */
export interface HostPort {
  host: string;
  port: number;
}

/** How a type shows a good target in its messages. */
export interface TargetForm {
  /** The `e.g. …` phrase that ends each message about the target's shape. */
  example: string;
}

/** One DNS label: letters, digits, `-` and `_` (as in SRV-style names), 1-63 characters, not starting or ending with `-`. */
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
/** Dot-separated labels, at most 253 characters besides an optional final dot. */
const HOST_NAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Whether `text` is a host name: dot-separated labels, an optional final dot, and not only digits
 * and dots (a resolver reads `999.1.1.1` or `123` as an IPv4 address, not as a name).
 */
export function isHostName(text: string): boolean {
  return HOST_NAME.test(text) && !/^[\d.]+$/.test(text);
}

/**
 * Parses `host:port` or `[IPv6]:port` (surrounding spaces ignored). Refuses URLs, an IPv6 address
 * without brackets, a bracketed text that is not IPv6, a host that is neither a name nor an IPv4
 * address, and a port that is not 1-65535 in at most 5 digits. Names are lower-cased, so two
 * spellings of one target compare equal. Messages quote the value through `quoteValue` (a URL's
 * userinfo masked) and end with the type's example when the shape is wrong.
 */
export function parseTarget(raw: string, form: TargetForm): Parsed<HostPort> {
  const text = raw.trim();
  const wrongShape = (what: string, shown: string = text): { error: string } => ({ error: `${what}, got ${quoteValue(shown)}; ${form.example}` });
  if (SCHEME.test(text)) return wrongShape('expected host:port without a scheme');
  if (text.startsWith('[')) {
    const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (bracketed && !net.isIPv6(bracketed[1]!)) return wrongShape('expected an IPv6 address inside [ ]', bracketed[1]);
    if (bracketed?.[2] === undefined) return wrongShape('expected [IPv6]:port');
    const port = parsePort(bracketed[2], wrongShape);
    return 'error' in port ? port : { value: { host: bracketed[1]!, port: port.value } };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return wrongShape('expected host:port');
  const host = text.slice(0, colon);
  if (host.includes(':')) return wrongShape('an IPv6 address goes in brackets');
  if (host === '') return wrongShape('expected host:port with a host before the colon');
  if (!net.isIPv4(host) && !isHostName(host)) return wrongShape('expected a host name or IPv4 address before the colon', host);
  const port = parsePort(text.slice(colon + 1), wrongShape);
  return 'error' in port ? port : { value: { host: host.toLowerCase(), port: port.value } };
}

/** The text after the colon: 1-65535, at most 5 digits (a leading zero allowed). */
function parsePort(text: string, wrongShape: (what: string) => { error: string }): Parsed<number> {
  if (text === '') return wrongShape('expected host:port with a port after the colon');
  if (!/^\d+$/.test(text)) return { error: `port must be a number 1-65535, got ${quoteValue(text)}` };
  const port = Number(text);
  if (text.length > 5 || port < 1 || port > 65_535) return { error: `port must be 1-65535, got ${quoteValue(text)}` };
  return { value: port };
}
