import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpProbeType } from '../../src/probes/http.js';
import type { ParamIssue } from '../../src/probes/probe.js';
import { builtinProbeRegistry } from '../../src/probes/registry.js';
import type { TlsProbeOptions } from '../../src/probes/tls-params.js';
import { tlsProbeType } from '../../src/probes/tls.js';
import { NO_OPENSSL, testCerts } from '../support/certs.js';

/** Builds a ProbeParams map from `key=value` pairs, repeated keys collecting every value. */
function params(...pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [k, v] of pairs) map.set(k, [...(map.get(k) ?? []), v]);
  return map;
}

const dir = mkdtempSync(join(tmpdir(), 'canihaz-tls-params-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const certs = testCerts();

const DEFAULTS: Omit<TlsProbeOptions, 'host' | 'port' | 'servername'> = { minDays: 14, ca: undefined, timeoutMs: 10_000 };
const UNKNOWN = 'unknown key; tls accepts target, servername, min_days, ca, timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals';
const EXAMPLE = 'e.g. example.com:443, 192.0.2.1:443 or [2001:db8::1]:443';

describe('tls params: accepted', () => {
  it.each<[string, Map<string, string[]>, TlsProbeOptions]>([
    ['a name: SNI defaults to it', params(['target', 'example.com:443']), { ...DEFAULTS, host: 'example.com', port: 443, servername: 'example.com' }],
    ['a name is lower-cased, its final dot kept for the lookup but not in SNI', params(['target', 'Example.COM.:8443']), { ...DEFAULTS, host: 'example.com.', port: 8443, servername: 'example.com' }],
    ['an IPv4 literal: no SNI', params(['target', '192.0.2.1:443']), { ...DEFAULTS, host: '192.0.2.1', port: 443, servername: undefined }],
    ['an IPv6 literal in brackets: no SNI', params(['target', '[2001:db8::1]:443']), { ...DEFAULTS, host: '2001:db8::1', port: 443, servername: undefined }],
    ['servername for an IP target', params(['target', '127.0.0.1:8443'], ['servername', 'Www.Example.com']), { ...DEFAULTS, host: '127.0.0.1', port: 8443, servername: 'www.example.com' }],
    ['min_days 0', params(['target', 'h:1'], ['min_days', '0']), { ...DEFAULTS, host: 'h', port: 1, servername: 'h', minDays: 0 }],
    ['min_days decimal', params(['target', 'h:65535'], ['min_days', '2.5']), { ...DEFAULTS, host: 'h', port: 65_535, servername: 'h', minDays: 2.5 }],
    ['timeout', params(['target', 'h:443'], ['timeout', '750ms']), { ...DEFAULTS, host: 'h', port: 443, servername: 'h', timeoutMs: 750 }],
  ])('%s', (_name, input, options) => {
    expect(tlsProbeType.parse(input)).toEqual({ ok: true, options, timeoutMs: options.timeoutMs });
  });

  it.skipIf(!certs)(`ca= reads the PEM file when the line is parsed${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, () => {
    // A bundle with text around the certificates (as `openssl x509 -text` writes) keeps only the certificates.
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, `Certificate:\n  some text\n${certs!.ca.cert}\n# comment\n${certs!.leaf.cert}`);
    const parsed = tlsProbeType.parse(params(['target', 'h:443'], ['ca', bundle]));
    expect(parsed.ok).toBe(true);
    const ca = parsed.ok ? parsed.options.ca : undefined;
    expect(ca?.path).toBe(bundle);
    expect(ca?.pem).toBe(`${certs!.ca.cert.trim()}\n${certs!.leaf.cert.trim()}`);
  });

  it('is registered as a built-in type', async () => {
    const registry = builtinProbeRegistry();
    await registry.load?.(['tls']);
    expect(registry.get('tls')).toBe(tlsProbeType);
    expect(tlsProbeType.defaultConcurrency).toBe(100);
  });
});

describe('tls params: refused, each with its field', () => {
  const notPem = join(dir, 'key-not-cert.pem');
  writeFileSync(notPem, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n');
  const brokenPem = join(dir, 'broken.pem');
  writeFileSync(brokenPem, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
  const aDir = join(dir, 'a-dir');
  mkdirSync(aDir, { recursive: true });
  const fifo = join(dir, 'fifo.pem');
  execFileSync('mkfifo', [fifo]);

  it.each<[string, Map<string, string[]>, ParamIssue[]]>([
    ['target missing', params(), [{ field: 'target', message: 'is required, e.g. target=example.com:443' }]],
    ['no port', params(['target', 'example.com']), [{ field: 'target', message: `expected host:port, got "example.com"; ${EXAMPLE}` }]],
    ['port 0', params(['target', 'h:0']), [{ field: 'target', message: 'port must be 1-65535, got "0"' }]],
    ['port too large', params(['target', 'h:65536']), [{ field: 'target', message: 'port must be 1-65535, got "65536"' }]],
    ['port not a number', params(['target', 'h:https']), [{ field: 'target', message: 'port must be a number 1-65535, got "https"' }]],
    ['IPv6 without brackets', params(['target', '::1:443']), [{ field: 'target', message: `an IPv6 address goes in brackets, got "::1:443"; ${EXAMPLE}` }]],
    ['not an IPv6 address in brackets', params(['target', '[example.com]:443']), [{ field: 'target', message: `expected an IPv6 address inside [ ], got "example.com"; ${EXAMPLE}` }]],
    ['a URL', params(['target', 'https://example.com:443']), [{ field: 'target', message: `expected host:port without a scheme, got "https://example.com:443"; ${EXAMPLE}` }]],
    ['a bad host name', params(['target', 'exa mple.com:443']), [{ field: 'target', message: `expected a host name or IPv4 address before the colon, got "exa mple.com"; ${EXAMPLE}` }]],
    ['digits and dots are not a name (nor an IPv4 address)', params(['target', '999.1.1.1:443']), [{ field: 'target', message: `expected a host name or IPv4 address before the colon, got "999.1.1.1"; ${EXAMPLE}` }]],
    ['a URL with credentials is masked', params(['target', 'https://u:secret@example.com:443']), [{ field: 'target', message: `expected host:port without a scheme, got "https://***@example.com:443"; ${EXAMPLE}` }]],
    ['servername an IP', params(['target', 'h:443'], ['servername', '192.0.2.1']), [{ field: 'servername', message: "must be a host name (SNI carries no IP address; an IP target is checked against the certificate's IP entries), got \"192.0.2.1\"" }]],
    ['servername not a name', params(['target', 'h:443'], ['servername', 'a/b']), [{ field: 'servername', message: 'expected a host name such as example.com, got "a/b"' }]],
    ['min_days negative', params(['target', 'h:443'], ['min_days', '-1']), [{ field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got "-1"' }]],
    ['min_days a word', params(['target', 'h:443'], ['min_days', 'two']), [{ field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got "two"' }]],
    ['min_days with a unit', params(['target', 'h:443'], ['min_days', '14d']), [{ field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got "14d"' }]],
    ['min_days exponent', params(['target', 'h:443'], ['min_days', '1e3']), [{ field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got "1e3"' }]],
    ['min_days empty', params(['target', 'h:443'], ['min_days', '']), [{ field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got ""' }]],
    ['ca relative', params(['target', 'h:443'], ['ca', 'ca.pem']), [{ field: 'ca', message: 'must be an absolute path, got "ca.pem"' }]],
    ['ca missing file', params(['target', 'h:443'], ['ca', '/nonexistent/ca.pem']), [{ field: 'ca', message: 'cannot read "/nonexistent/ca.pem": ENOENT' }]],
    ['ca not PEM (a key: its content is not shown)', params(['target', 'h:443'], ['ca', notPem]), [{ field: 'ca', message: `"${notPem}" holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)` }]],
    ['ca a certificate block that does not parse', params(['target', 'h:443'], ['ca', brokenPem]), [{ field: 'ca', message: `"${brokenPem}": certificate 1 of 1 cannot be parsed` }]],
    ['ca a directory', params(['target', 'h:443'], ['ca', aDir]), [{ field: 'ca', message: `"${aDir}" is not a regular file` }]],
    ['ca a FIFO (refused at once, not read)', params(['target', 'h:443'], ['ca', fifo]), [{ field: 'ca', message: `"${fifo}" is not a regular file` }]],
    ['timeout too long', params(['target', 'h:443'], ['timeout', '6m']), [{ field: 'timeout', message: 'must be at most 5m, got "6m"' }]],
    ['unknown key', params(['target', 'h:443'], ['url', 'https://h/']), [{ field: 'url', message: UNKNOWN }]],
    ['repeated key', params(['target', 'h:443'], ['target', 'i:443']), [{ field: 'target', message: 'given more than once' }]],
    [
      'every problem at once, in line order',
      params(['min_days', 'x'], ['target', 'h'], ['ca', '/nonexistent/ca.pem']),
      [
        { field: 'min_days', message: 'expected a number of days of 0 or more, e.g. 14 or 0.5, got "x"' },
        { field: 'target', message: `expected host:port, got "h"; ${EXAMPLE}` },
        { field: 'ca', message: 'cannot read "/nonexistent/ca.pem": ENOENT' },
      ],
    ],
  ])('%s', (_name, input, issues) => {
    expect(tlsProbeType.parse(input)).toEqual({ ok: false, issues });
  });

  const root = process.getuid?.() === 0;
  it.skipIf(root)(`ca unreadable (mode 000)${root ? ' (skipped: root reads any file)' : ''}`, () => {
    const locked = join(dir, 'locked.pem');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    expect(tlsProbeType.parse(params(['target', 'h:443'], ['ca', locked]))).toEqual({ ok: false, issues: [{ field: 'ca', message: `cannot read "${locked}": EACCES` }] });
  });
});

describe('http params: ca=', () => {
  it('shares the reader: a missing file is reported on the ca field', () => {
    expect(httpProbeType.parse(params(['url', 'https://h/'], ['ca', '/nonexistent/ca.pem']))).toEqual({
      ok: false,
      issues: [{ field: 'ca', message: 'cannot read "/nonexistent/ca.pem": ENOENT' }],
    });
  });

  it.skipIf(!certs)(`reads the CA for an https URL, refuses it for http${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, () => {
    const ok = httpProbeType.parse(params(['url', 'https://h/'], ['ca', certs!.ca.certPath]));
    expect(ok.ok && ok.options.ca).toEqual({ path: certs!.ca.certPath, pem: certs!.ca.cert.trim() });
    expect(httpProbeType.parse(params(['url', 'http://h/'], ['ca', certs!.ca.certPath]))).toEqual({
      ok: false,
      issues: [{ field: 'ca', message: 'applies only to https:// URLs' }],
    });
  });
});
