import { describe, expect, it } from 'vitest';
import { answerText, type DnsProbeOptions } from '../../src/probes/dns-params.js';
import { dnsProbeType } from '../../src/probes/dns.js';
import type { ParamIssue } from '../../src/probes/probe.js';
import { builtinProbeRegistry } from '../../src/probes/registry.js';

/** Builds a ProbeParams map from `key=value` pairs, repeated keys collecting every value. */
function params(...pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [k, v] of pairs) map.set(k, [...(map.get(k) ?? []), v]);
  return map;
}

const DEFAULTS: DnsProbeOptions = { name: 'example.com', type: 'A', server: undefined, expect: undefined, timeoutMs: 5_000 };
const UNKNOWN = 'unknown key; dns accepts name, type, server, expect, timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals';
const SERVER_FORM = 'expected an IP address with an optional port, e.g. 192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353';

describe('dns params: accepted', () => {
  it.each<[string, [string, string][], Partial<DnsProbeOptions>]>([
    ['name only, defaults', [['name', 'example.com']], {}],
    ['trailing dot dropped', [['name', 'example.com.']], {}],
    ['service labels with _', [['name', '_sip._tcp.example.com'], ['type', 'srv']], { name: '_sip._tcp.example.com', type: 'SRV' }],
    ['the root', [['name', '.'], ['type', 'NS']], { name: '.', type: 'NS' }],
    ['internationalised name to xn--', [['name', 'bücher.example']], { name: 'xn--bcher-kva.example' }],
    ['a 63-character label', [['name', `${'a'.repeat(63)}.example`]], { name: `${'a'.repeat(63)}.example` }],
    ...(['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'NS'] as const).map((t): [string, [string, string][], Partial<DnsProbeOptions>] => [
      `type ${t.toLowerCase()}`,
      [['name', 'example.com'], ['type', t.toLowerCase()]],
      { type: t },
    ]),
    ['server IPv4, port 53 added', [['name', 'example.com'], ['server', '192.0.2.53']], { server: '192.0.2.53:53' }],
    ['server IPv4 with port', [['name', 'example.com'], ['server', '127.0.0.1:5353']], { server: '127.0.0.1:5353' }],
    ['server bare IPv6', [['name', 'example.com'], ['server', '2001:DB8:0::53']], { server: '[2001:db8::53]:53' }],
    ['server IPv6 that ends like a port', [['name', 'example.com'], ['server', '1::2']], { server: '[1::2]:53' }],
    ['server [IPv6]', [['name', 'example.com'], ['server', '[::1]']], { server: '[::1]:53' }],
    ['server [IPv6]:port', [['name', 'example.com'], ['server', '[::1]:5300']], { server: '[::1]:5300' }],
    ['expect A', [['name', 'example.com'], ['expect', '192.0.2.1']], { expect: '192.0.2.1' }],
    ['expect AAAA canonical', [['name', 'example.com'], ['type', 'AAAA'], ['expect', '2001:DB8:0:0::1']], { type: 'AAAA', expect: '2001:db8::1' }],
    ['expect CNAME lower-cased, dot dropped', [['name', 'www.example.com'], ['type', 'CNAME'], ['expect', 'CDN.Example.NET.']], { name: 'www.example.com', type: 'CNAME', expect: 'cdn.example.net' }],
    ['expect MX null exchange', [['name', 'example.com'], ['type', 'MX'], ['expect', '.']], { type: 'MX', expect: '' }],
    ['expect TXT as written', [['name', 'example.com'], ['type', 'TXT'], ['expect', 'v=spf1 -all']], { type: 'TXT', expect: 'v=spf1 -all' }],
    ['expect before type', [['expect', 'ns1.example.com'], ['name', 'example.com'], ['type', 'NS']], { type: 'NS', expect: 'ns1.example.com' }],
    ['timeout', [['name', 'example.com'], ['timeout', '1500ms']], { timeoutMs: 1_500 }],
    ['timeout at the 1m cap', [['name', 'example.com'], ['timeout', '1m']], { timeoutMs: 60_000 }],
  ])('%s', (_title, pairs, expected) => {
    const options = { ...DEFAULTS, ...expected };
    expect(dnsProbeType.parse(params(...pairs))).toEqual({ ok: true, options, timeoutMs: options.timeoutMs });
  });

  it('is a built-in type with a default concurrency', async () => {
    const registry = builtinProbeRegistry();
    await registry.load?.(['dns']);
    expect(registry.get('dns')).toBe(dnsProbeType);
    expect(dnsProbeType.defaultConcurrency).toBe(100);
  });
});

describe('dns params: refused, every problem reported in key order', () => {
  it.each<[string, [string, string][], ParamIssue[]]>([
    ['name missing', [['type', 'A']], [{ field: 'name', message: 'is required, e.g. example.com or _sip._tcp.example.com' }]],
    ['name empty', [['name', '']], [{ field: 'name', message: 'must not be empty; expected a DNS name, e.g. example.com or _sip._tcp.example.com' }]],
    ['name with a space', [['name', 'exa mple.com']], [{ field: 'name', message: 'expected a DNS name, e.g. example.com or _sip._tcp.example.com; "exa mple.com" may hold only letters, digits, - and _ between dots' }]],
    ['name with an empty label', [['name', 'a..example']], [{ field: 'name', message: 'expected a DNS name, e.g. example.com or _sip._tcp.example.com; "a..example" has an empty label' }]],
    ['name with a 64-character label', [['name', `${'a'.repeat(64)}.example`]], [{ field: 'name', message: expect.stringContaining('has a label of 64 characters (at most 63)') as string }]],
    ['name too long', [['name', `${'abcdefghi.'.repeat(26)}com`]], [{ field: 'name', message: 'must be at most 253 characters, got 263' }]],
    ['a URL for name', [['name', 'https://example.com/']], [{ field: 'name', message: expect.stringContaining('may hold only letters, digits, - and _') as string }]],
    ['type unknown', [['name', 'example.com'], ['type', 'PTR']], [{ field: 'type', message: 'expected one of A, AAAA, CNAME, MX, TXT, SRV, NS, got "PTR"' }]],
    ['server a host name', [['name', 'e.com'], ['server', 'ns1.example.com']], [{ field: 'server', message: `${SERVER_FORM}, got "ns1.example.com" (host names are not resolved for server=; write its address)` }]],
    ['server a host name with port', [['name', 'e.com'], ['server', 'ns1.example.com:53']], [{ field: 'server', message: expect.stringContaining('host names are not resolved') as string }]],
    ['server port 0', [['name', 'e.com'], ['server', '127.0.0.1:0']], [{ field: 'server', message: 'port must be a whole number from 1 to 65535, got "0"' }]],
    ['server port too big', [['name', 'e.com'], ['server', '[::1]:65536']], [{ field: 'server', message: 'port must be a whole number from 1 to 65535, got "65536"' }]],
    ['server port not a number', [['name', 'e.com'], ['server', '127.0.0.1:dns']], [{ field: 'server', message: 'port must be a whole number from 1 to 65535, got "dns"' }]],
    ['server IPv6 with a port, no brackets', [['name', 'e.com'], ['server', '::1:53:x']], [{ field: 'server', message: `${SERVER_FORM}, got "::1:53:x"` }]],
    ['server zone index', [['name', 'e.com'], ['server', 'fe80::1%eth0']], [{ field: 'server', message: 'zone indexes (%) are not supported, got "fe80::1%eth0"' }]],
    ['server bracketed IPv4', [['name', 'e.com'], ['server', '[127.0.0.1]:53']], [{ field: 'server', message: `${SERVER_FORM}, got "[127.0.0.1]:53"` }]],
    ['server IPv4 with leading zeros', [['name', 'e.com'], ['server', '127.000.0.1']], [{ field: 'server', message: `${SERVER_FORM}, got "127.000.0.1"` }]],
    ['expect not an IPv4 for A (default type)', [['name', 'e.com'], ['expect', '2001:db8::1']], [{ field: 'expect', message: 'type A answers are IPv4 addresses; expected one such as 192.0.2.1, got "2001:db8::1"' }]],
    ['expect not an IPv6 for AAAA', [['name', 'e.com'], ['type', 'aaaa'], ['expect', '192.0.2.1']], [{ field: 'expect', message: 'type AAAA answers are IPv6 addresses; expected one such as 2001:db8::1, got "192.0.2.1"' }]],
    ['expect not a name for MX', [['name', 'e.com'], ['type', 'MX'], ['expect', '10 mail.e.com']], [{ field: 'expect', message: 'type MX answers are names: expected a DNS name, e.g. example.com or _sip._tcp.example.com; "10 mail.e.com" may hold only letters, digits, - and _ between dots' }]],
    ['expect empty', [['name', 'e.com'], ['type', 'TXT'], ['expect', '']], [{ field: 'expect', message: 'must not be empty' }]],
    ['timeout above the cap', [['name', 'e.com'], ['timeout', '2m']], [{ field: 'timeout', message: 'must be at most 1m, got "2m"' }]],
    ['timeout without unit', [['name', 'e.com'], ['timeout', '5']], [{ field: 'timeout', message: '"5" has no unit; add one, e.g. 5s or 5ms' }]],
    ['unknown key', [['name', 'e.com'], ['url', 'http://e.com/']], [{ field: 'url', message: UNKNOWN }]],
    ['a key given twice', [['name', 'e.com'], ['type', 'A'], ['type', 'MX']], [{ field: 'type', message: 'given more than once' }]],
    ['expect given twice (not also checked against the type)', [['name', 'e.com'], ['expect', 'x'], ['expect', 'y']], [{ field: 'expect', message: 'given more than once' }]],
    [
      'every problem at once, in the line order',
      [['server', 'ns1'], ['expect', 'nope'], ['name', 'a b'], ['bogus', '1'], ['timeout', '0s']],
      [
        { field: 'server', message: `${SERVER_FORM}, got "ns1" (host names are not resolved for server=; write its address)` },
        { field: 'expect', message: 'type A answers are IPv4 addresses; expected one such as 192.0.2.1, got "nope"' },
        { field: 'name', message: expect.stringContaining('"a b" may hold only') as string },
        { field: 'bogus', message: UNKNOWN },
        { field: 'timeout', message: 'must be greater than zero, got "0s"' },
      ],
    ],
    [
      'a bad type leaves expect unchecked (no type to check it against)',
      [['name', 'e.com'], ['type', 'SOA'], ['expect', 'anything']],
      [{ field: 'type', message: 'expected one of A, AAAA, CNAME, MX, TXT, SRV, NS, got "SOA"' }],
    ],
  ])('%s', (_title, pairs, issues) => {
    expect(dnsProbeType.parse(params(...pairs))).toEqual({ ok: false, issues });
  });
});

describe('dns answers as expect= compares them', () => {
  it.each<[string, Parameters<typeof answerText>[0], unknown, string]>([
    ['A: the address', 'A', '192.0.2.1', '192.0.2.1'],
    ['AAAA: the canonical address', 'AAAA', '2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['CNAME: the name, lower case', 'CNAME', 'CDN.Example.net', 'cdn.example.net'],
    ['NS: the name, no trailing dot', 'NS', 'ns1.example.com.', 'ns1.example.com'],
    ['MX: the exchange', 'MX', { exchange: 'Mail.Example.com', priority: 10 }, 'mail.example.com'],
    ['TXT: one record, strings joined', 'TXT', ['v=spf1 ', 'include:x ', '-all'], 'v=spf1 include:x -all'],
    ['SRV: the target', 'SRV', { name: 'SIP.example.com', port: 5060, priority: 1, weight: 1 }, 'sip.example.com'],
  ])('%s', (_title, type, answer, text) => {
    expect(answerText(type, answer)).toBe(text);
  });
});
