import { describe, expect, it } from 'vitest';
import { isHostName, parseTarget, type HostPort } from '../../src/probes/target.js';

const EXAMPLE = 'e.g. target=db.example.com:5432 or target=[::1]:6379';
const parse = (raw: string) => parseTarget(raw, { example: EXAMPLE });

describe('parseTarget: accepted', () => {
  it.each<[string, HostPort]>([
    ['db.example.com:5432', { host: 'db.example.com', port: 5432 }],
    ['DB.Example.COM:5432', { host: 'db.example.com', port: 5432 }],
    ['Example.COM.:8443', { host: 'example.com.', port: 8443 }],
    ['_svc._tcp.local:80', { host: '_svc._tcp.local', port: 80 }],
    ['h:1', { host: 'h', port: 1 }],
    ['h:080', { host: 'h', port: 80 }],
    ['h:65535', { host: 'h', port: 65_535 }],
    ['  h:22  ', { host: 'h', port: 22 }],
    ['127.0.0.1:1', { host: '127.0.0.1', port: 1 }],
    ['[::1]:65535', { host: '::1', port: 65_535 }],
    ['[2001:db8::1:2]:443', { host: '2001:db8::1:2', port: 443 }],
    ['[fe80::1%eth0]:22', { host: 'fe80::1%eth0', port: 22 }],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}:1`, { host: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, port: 1 }],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.:1`, { host: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`, port: 1 }],
  ])('%s', (raw, value) => {
    expect(parse(raw)).toEqual({ value });
  });
});

describe('parseTarget: refused, the value quoted (secrets masked)', () => {
  it.each<[string, string]>([
    ['db.example.com', `expected host:port, got "db.example.com"; ${EXAMPLE}`],
    ['', `expected host:port, got ""; ${EXAMPLE}`],
    ['db:', `expected host:port with a port after the colon, got "db:"; ${EXAMPLE}`],
    [':80', `expected host:port with a host before the colon, got ":80"; ${EXAMPLE}`],
    ['h:0', 'port must be 1-65535, got "0"'],
    ['h:65536', 'port must be 1-65535, got "65536"'],
    ['h:000080', 'port must be 1-65535, got "000080"'],
    ['h:http', 'port must be a number 1-65535, got "http"'],
    ['h:-1', 'port must be a number 1-65535, got "-1"'],
    ['h:8 0', 'port must be a number 1-65535, got "8 0"'],
    ['::1:80', `an IPv6 address goes in brackets, got "::1:80"; ${EXAMPLE}`],
    ['2001:db8::1', `an IPv6 address goes in brackets, got "2001:db8::1"; ${EXAMPLE}`],
    ['h:1:2', `an IPv6 address goes in brackets, got "h:1:2"; ${EXAMPLE}`],
    ['u:secret@db:5432', `an IPv6 address goes in brackets, got "***@db:5432"; ${EXAMPLE}`],
    ['[::1]', `expected [IPv6]:port, got "[::1]"; ${EXAMPLE}`],
    ['[::1', `expected [IPv6]:port, got "[::1"; ${EXAMPLE}`],
    ['[::1]80', `expected [IPv6]:port, got "[::1]80"; ${EXAMPLE}`],
    ['[db]:80', `expected an IPv6 address inside [ ], got "db"; ${EXAMPLE}`],
    ['[127.0.0.1]:80', `expected an IPv6 address inside [ ], got "127.0.0.1"; ${EXAMPLE}`],
    ['[db]', `expected an IPv6 address inside [ ], got "db"; ${EXAMPLE}`],
    ['[::1]:99999', 'port must be 1-65535, got "99999"'],
    ['[::1]:', `expected host:port with a port after the colon, got "[::1]:"; ${EXAMPLE}`],
    ['tcp://db:5432', `expected host:port without a scheme, got "tcp://db:5432"; ${EXAMPLE}`],
    ['https://u:secret@db:443/?token=abc', `expected host:port without a scheme, got "https://***@db:443/?token=***"; ${EXAMPLE}`],
    ['db host:80', `expected a host name or IPv4 address before the colon, got "db host"; ${EXAMPLE}`],
    ['999.1.1.1:80', `expected a host name or IPv4 address before the colon, got "999.1.1.1"; ${EXAMPLE}`],
    ['123:80', `expected a host name or IPv4 address before the colon, got "123"; ${EXAMPLE}`],
    ['-db:80', `expected a host name or IPv4 address before the colon, got "-db"; ${EXAMPLE}`],
    ['db..example:80', `expected a host name or IPv4 address before the colon, got "db..example"; ${EXAMPLE}`],
    ['a]b:80', `expected a host name or IPv4 address before the colon, got "a]b"; ${EXAMPLE}`],
  ])('%j', (raw, error) => {
    expect(parse(raw)).toEqual({ error });
  });

  it('a name over 253 characters is refused, one of 253 and a final dot is not', () => {
    const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(name253).toHaveLength(253);
    expect(parse(`${name253}:1`)).toEqual({ value: { host: name253, port: 1 } });
    expect(parse(`${name253}d:1`)).toMatchObject({ error: expect.stringMatching(/^expected a host name or IPv4 address before the colon, got "a{63}\.b{16}/) });
  });

  it('a label of 64 characters is refused', () => {
    expect(parse(`${'a'.repeat(64)}:80`)).toMatchObject({ error: expect.stringMatching(/^expected a host name or IPv4 address before the colon, got /) });
  });
});

describe('isHostName', () => {
  it.each<[string, boolean]>([
    ['example.com', true],
    ['example.com.', true],
    ['_dmarc.example.com', true],
    ['a-b', true],
    ['1a', true],
    ['xn--bcher-kva.example', true],
    ['', false],
    ['.', false],
    ['-a', false],
    ['a-', false],
    ['a..b', false],
    ['a b', false],
    ['a/b', false],
    ['123', false],
    ['1.2.3.4', false],
    ['999.1.1.1.', false],
    ['::1', false],
  ])('%j → %s', (text, ok) => {
    expect(isHostName(text)).toBe(ok);
  });
});
