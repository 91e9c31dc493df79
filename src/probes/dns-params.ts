/**
 * The `key=value` fields of a dns test: their defaults, their parsers and the options they validate
 * into, and what an answer's text is for `expect=` (the same normalisation on both sides).
 */
import net from 'node:net';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { quoteValue } from '../redact.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ParamIssue, ProbeParams, ProbeType } from './probe.js';

/** The record types a dns test can ask for. */
export const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'NS'] as const;
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

/** Validated options of one dns test; plain data, so two lines' options can be compared. */
export interface DnsProbeOptions {
  /** The name queried, ASCII (an internationalised name in its xn-- form), without a trailing dot; `.` is the root. Required. */
  name: string;
  /** The record type asked for. Default `A`. */
  type: DnsRecordType;
  /** The server asked, `address:port` (IPv6 `[address]:port`), or undefined for the system's resolv.conf servers. */
  server: string | undefined;
  /** A value that must be among the answers, normalised as `answerText` normalises answers. Default none. */
  expect: string | undefined;
  /** How long one execution may take, ms. Default 5 s, at most 1 m. */
  timeoutMs: number;
}

/** Default execution timeout of a dns test. */
export const DEFAULT_DNS_TIMEOUT_MS = 5_000;
/** Longest execution timeout a dns test may set. */
export const MAX_DNS_TIMEOUT_MS = 60_000;
/** Default cap on executions of one dns test in flight at once. */
export const DEFAULT_DNS_CONCURRENCY = 100;
/** The port of `server=` when it names none. */
export const DNS_PORT = 53;

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const NAME_EXAMPLE = 'e.g. example.com or _sip._tcp.example.com';

/**
 * A DNS name in the form it is queried and compared: ASCII, no trailing dot (the root `.` is `''`).
 * Labels are letters, digits, `-` and `_` (service names such as `_dmarc`), 1-63 characters.
 */
function parseDnsName(raw: string): Parsed<string> {
  if (raw === '') return { error: `must not be empty; expected a DNS name, ${NAME_EXAMPLE}` };
  if (raw === '.') return { value: '' };
  const ascii = /[^\x00-\x7f]/.test(raw) ? domainToASCII(raw) : raw;
  if (ascii === '') return { error: `expected a DNS name, ${NAME_EXAMPLE}, got ${quoteValue(raw)} (not a valid internationalised name)` };
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  if (name.length > 253) return { error: `must be at most 253 characters, got ${name.length}` };
  const bad = name.split('.').find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    const why = bad === '' ? 'has an empty label' : bad.length > 63 ? `has a label of ${bad.length} characters (at most 63)` : 'may hold only letters, digits, - and _ between dots';
    return { error: `expected a DNS name, ${NAME_EXAMPLE}; ${quoteValue(raw)} ${why}` };
  }
  return { value: name };
}

function parseType(raw: string): Parsed<DnsRecordType> {
  const type = DNS_RECORD_TYPES.find((t) => t === raw.toUpperCase());
  return type ? { value: type } : { error: `expected one of ${DNS_RECORD_TYPES.join(', ')}, got ${quoteValue(raw)}` };
}

/** An IPv6 address in its canonical text (lower case, longest zero run compressed). */
export function canonicalIPv6(address: string): string {
  return new net.SocketAddress({ address, family: 'ipv6' }).address;
}

/**
 * `server=`: an IP address with an optional port, as c-ares' setServers takes it. Host names are
 * refused, not resolved: a DNS test that first needs DNS to find its server would fail for two
 * reasons under one name, and resolv.conf itself names servers by address.
 */
function parseServer(raw: string): Parsed<string> {
  const form = 'expected an IP address with an optional port, e.g. 192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353';
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(raw);
  let address = raw;
  let port: string | undefined;
  if (bracketed) {
    [, address = '', port] = bracketed;
  } else if (net.isIP(raw) === 0) {
    const colon = raw.lastIndexOf(':');
    if (colon > 0 && net.isIPv4(raw.slice(0, colon))) [address, port] = [raw.slice(0, colon), raw.slice(colon + 1)];
  }
  if (address.includes('%')) return { error: `zone indexes (%) are not supported, got ${quoteValue(raw)}` };
  const family = net.isIP(address);
  if (family === 0 || (family === 4 && bracketed)) {
    const hint = /^[A-Za-z0-9.-]+(?::\d+)?$/.test(raw) && /[A-Za-z]/.test(raw) ? ' (host names are not resolved for server=; write its address)' : '';
    return { error: `${form}, got ${quoteValue(raw)}${hint}` };
  }
  let portNumber = DNS_PORT;
  if (port !== undefined) {
    portNumber = /^\d{1,5}$/.test(port) ? Number(port) : 0;
    if (portNumber < 1 || portNumber > 65_535) return { error: `port must be a whole number from 1 to 65535, got ${quoteValue(port)}` };
  }
  return { value: family === 6 ? `[${canonicalIPv6(address)}]:${portNumber}` : `${address}:${portNumber}` };
}

/** Checks `expect=` against the record type and normalises it as answers are normalised. */
function parseExpect(raw: string, type: DnsRecordType): Parsed<string> {
  if (raw === '') return { error: 'must not be empty' };
  switch (type) {
    case 'A':
      return net.isIPv4(raw) ? { value: raw } : { error: `type A answers are IPv4 addresses; expected one such as 192.0.2.1, got ${quoteValue(raw)}` };
    case 'AAAA':
      return net.isIPv6(raw) && !raw.includes('%')
        ? { value: canonicalIPv6(raw) }
        : { error: `type AAAA answers are IPv6 addresses; expected one such as 2001:db8::1, got ${quoteValue(raw)}` };
    case 'TXT':
      return { value: raw };
    default: {
      const name = parseDnsName(raw);
      return 'value' in name ? { value: name.value.toLowerCase() } : { error: `type ${type} answers are names: ${name.error}` };
    }
  }
}

/**
 * The text of one answer that `expect=` is compared with: an A record's address, an AAAA record's
 * canonical address, a CNAME's or NS's name, an MX's exchange, an SRV's target (names lower-cased,
 * no trailing dot), a TXT record's strings joined with nothing between them.
 */
export function answerText(type: DnsRecordType, answer: unknown): string {
  switch (type) {
    case 'A':
      return answer as string;
    case 'AAAA':
      return canonicalIPv6(answer as string);
    case 'TXT':
      return (answer as string[]).join('');
    case 'MX':
      return normaliseName((answer as { exchange: string }).exchange);
    case 'SRV':
      return normaliseName((answer as { name: string }).name);
    default:
      return normaliseName(answer as string);
  }
}

function normaliseName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

const parseFields = paramsParser({
  type: 'dns',
  shape: {
    name: field(parseDnsName, `is required, ${NAME_EXAMPLE}`),
    type: field(parseType).default('A'),
    server: field(parseServer).optional(),
    expect: z.string().optional(),
    timeout: timeoutField({ defaultMs: DEFAULT_DNS_TIMEOUT_MS, maxMs: MAX_DNS_TIMEOUT_MS }),
  },
});

/**
 * `expect=` checked against the line's record type (or `A`). Nothing to say when `expect` is absent
 * or repeated (parseFields reports that) or when the type itself is bad (no type to check it against).
 */
function expectFor(params: ProbeParams): { issue?: ParamIssue; value?: string } {
  const raw = params.get('expect');
  if (raw?.length !== 1) return {};
  const typeValues = params.get('type');
  const type = typeValues === undefined ? { value: 'A' as const } : typeValues.length === 1 ? parseType(typeValues[0]!) : undefined;
  if (!type || !('value' in type)) return {};
  const parsed = parseExpect(raw[0]!, type.value);
  return 'value' in parsed ? { value: parsed.value } : { issue: { field: 'expect', message: parsed.error } };
}

/** Validates a dns line's key=value fields, reporting every problem at once. */
export const parseDnsParams: ProbeType<DnsProbeOptions>['parse'] = (params) => {
  const result = parseFields(params);
  const expected = expectFor(params);
  if (!result.ok || expected.issue) {
    const issues = [...(result.ok ? [] : result.issues), ...(expected.issue ? [expected.issue] : [])];
    const order = [...params.keys()];
    const rank = (i: ParamIssue) => (order.includes(i.field) ? order.indexOf(i.field) : order.length);
    return { ok: false, issues: issues.sort((a, b) => rank(a) - rank(b)) };
  }
  const { name, type, server, timeout } = result.data;
  const options: DnsProbeOptions = { name: name === '' ? '.' : name, type, server, expect: expected.value, timeoutMs: timeout };
  return { ok: true, options, timeoutMs: timeout };
};
