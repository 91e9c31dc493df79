import { describe, expect, it } from 'vitest';
import { formatLineError, parseTestsText } from '../../src/config/tests-file.js';
import { parseEscapes } from '../../src/probes/escapes.js';
import type { ParamIssue } from '../../src/probes/probe.js';
import { builtinProbeRegistry } from '../../src/probes/registry.js';
import { tcpProbeType } from '../../src/probes/tcp.js';
import type { TcpProbeOptions } from '../../src/probes/tcp-params.js';

/** Builds a ProbeParams map from `key=value` pairs, repeated keys collecting every value. */
function params(...pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [k, v] of pairs) map.set(k, [...(map.get(k) ?? []), v]);
  return map;
}

function issuesOf(input: Map<string, string[]>): ParamIssue[] {
  const parsed = tcpProbeType.parse(input);
  if (parsed.ok) throw new Error(`expected problems, got ${JSON.stringify(parsed.options)}`);
  return parsed.issues;
}

const DEFAULTS = { send: undefined, expect: undefined, timeoutMs: 10_000 };
const bytes = (...b: number[]) => Buffer.from(b);

describe('tcp params: accepted', () => {
  it.each<[string, Map<string, string[]>, TcpProbeOptions]>([
    ['host name and port', params(['target', 'db.example.com:5432']), { ...DEFAULTS, host: 'db.example.com', port: 5432 }],
    ['IPv4 address', params(['target', '127.0.0.1:1']), { ...DEFAULTS, host: '127.0.0.1', port: 1 }],
    ['IPv6 address in brackets', params(['target', '[::1]:65535']), { ...DEFAULTS, host: '::1', port: 65_535 }],
    ['full IPv6 address', params(['target', '[2001:db8::1:2]:443']), { ...DEFAULTS, host: '2001:db8::1:2', port: 443 }],
    ['single-label name, trailing dot, underscore', params(['target', '_svc.local.:80']), { ...DEFAULTS, host: '_svc.local.', port: 80 }],
    ['a leading zero in the port', params(['target', 'h:080']), { ...DEFAULTS, host: 'h', port: 80 }],
    ['a name is lower-cased', params(['target', 'DB.Example.com:5432']), { ...DEFAULTS, host: 'db.example.com', port: 5432 }],
    [
      'send and expect with escapes',
      params(['target', 'h:6379'], ['send', String.raw`PING\r\n`], ['expect', String.raw`+PONG\r\n`]),
      { ...DEFAULTS, host: 'h', port: 6379, send: Buffer.from('PING\r\n'), expect: Buffer.from('+PONG\r\n') },
    ],
    ['expect alone (a banner)', params(['target', 'h:22'], ['expect', 'SSH-2.0']), { ...DEFAULTS, host: 'h', port: 22, expect: Buffer.from('SSH-2.0') }],
    ['timeout', params(['target', 'h:1'], ['timeout', '500ms']), { ...DEFAULTS, host: 'h', port: 1, timeoutMs: 500 }],
    ['timeout at the 5m cap', params(['target', 'h:1'], ['timeout', '5m']), { ...DEFAULTS, host: 'h', port: 1, timeoutMs: 300_000 }],
  ])('%s', (_name, input, options) => {
    expect(tcpProbeType.parse(input)).toEqual({ ok: true, options, timeoutMs: options.timeoutMs });
  });

  it('defaults to 100 executions in flight', () => {
    expect(tcpProbeType.defaultConcurrency).toBe(100);
  });

  it('is a built-in type', async () => {
    const registry = builtinProbeRegistry();
    await registry.load?.(['tcp']);
    expect(registry.get('tcp')).toBe(tcpProbeType);
  });
});

describe('escapes', () => {
  it.each<[string, Buffer]>([
    ['plain', Buffer.from('plain')],
    [String.raw`a\nb\rc\td`, Buffer.from('a\nb\rc\td')],
    [String.raw`back\\slash`, Buffer.from('back\\slash')],
    [String.raw`\\n is not a newline`, Buffer.from('\\n is not a newline')],
    [String.raw`\x00\xff\xAb`, bytes(0x00, 0xff, 0xab)],
    [String.raw`\x41BC`, Buffer.from('ABC')],
    ['é✓', Buffer.from('é✓', 'utf8')],
    [String.raw`é\x0a`, Buffer.concat([Buffer.from('é'), bytes(0x0a)])],
  ])('%s', (raw, value) => {
    expect(parseEscapes(raw)).toEqual({ value });
  });

  it.each<[string, string]>([
    [String.raw`ab\q`, String.raw`unknown escape "\q" at character 3; use \n, \r, \t, \\ or \xNN (two hex digits) (the value is not shown)`],
    [String.raw`\0`, String.raw`unknown escape "\0" at character 1; use \n, \r, \t, \\ or \xNN (two hex digits) (the value is not shown)`],
    ['a\\\u0001', String.raw`unknown escape "\" followed by U+0001 at character 2; use \n, \r, \t, \\ or \xNN (two hex digits) (the value is not shown)`],
    [String.raw`ab\x4`, String.raw`\x at character 3 must be followed by two hex digits, e.g. \x00 (the value is not shown)`],
    [String.raw`\xg0`, String.raw`\x at character 1 must be followed by two hex digits, e.g. \x00 (the value is not shown)`],
    ['abc\\', String.raw`ends with a lone backslash at character 4; write \\ for a backslash (the value is not shown)`],
  ])('%s is an error', (raw, error) => {
    expect(parseEscapes(raw)).toEqual({ error });
  });
});

describe('tcp params: problems', () => {
  const EXAMPLE = 'e.g. target=db.example.com:5432 or target=[::1]:6379';
  it.each<[string, Map<string, string[]>, ParamIssue[]]>([
    ['missing target', params(), [{ field: 'target', message: `is required, ${EXAMPLE}` }]],
    ['no port', params(['target', 'db.example.com']), [{ field: 'target', message: `expected host:port, got "db.example.com"; ${EXAMPLE}` }]],
    ['empty port', params(['target', 'db:']), [{ field: 'target', message: `expected host:port with a port after the colon, got "db:"; ${EXAMPLE}` }]],
    ['no host', params(['target', ':80']), [{ field: 'target', message: `expected host:port with a host before the colon, got ":80"; ${EXAMPLE}` }]],
    ['port 0', params(['target', 'h:0']), [{ field: 'target', message: 'port must be 1-65535, got "0"' }]],
    ['port 65536', params(['target', 'h:65536']), [{ field: 'target', message: 'port must be 1-65535, got "65536"' }]],
    ['port not a number', params(['target', 'h:http']), [{ field: 'target', message: 'port must be a number 1-65535, got "http"' }]],
    ['negative port', params(['target', 'h:-1']), [{ field: 'target', message: 'port must be a number 1-65535, got "-1"' }]],
    ['IPv6 without brackets', params(['target', '::1:80']), [{ field: 'target', message: `an IPv6 address goes in brackets, got "::1:80"; ${EXAMPLE}` }]],
    ['brackets without a port', params(['target', '[::1]']), [{ field: 'target', message: `expected [IPv6]:port, got "[::1]"; ${EXAMPLE}` }]],
    ['brackets around a non-IPv6', params(['target', '[db]:80']), [{ field: 'target', message: `expected an IPv6 address inside [ ], got "db"; ${EXAMPLE}` }]],
    ['bad IPv6 port', params(['target', '[::1]:99999']), [{ field: 'target', message: 'port must be 1-65535, got "99999"' }]],
    ['a port of more than 5 digits', params(['target', 'h:000080']), [{ field: 'target', message: 'port must be 1-65535, got "000080"' }]],
    ['a URL', params(['target', 'tcp://db:5432']), [{ field: 'target', message: `expected host:port without a scheme, got "tcp://db:5432"; ${EXAMPLE}` }]],
    ['a URL with credentials is masked', params(['target', 'tcp://u:secret@db:5432']), [{ field: 'target', message: `expected host:port without a scheme, got "tcp://***@db:5432"; ${EXAMPLE}` }]],
    ['a bad host name', params(['target', 'db host:80']), [{ field: 'target', message: `expected a host name or IPv4 address before the colon, got "db host"; ${EXAMPLE}` }]],
    ['a bad IPv4 address', params(['target', '999.1.1.1:80']), [{ field: 'target', message: `expected a host name or IPv4 address before the colon, got "999.1.1.1"; ${EXAMPLE}` }]],
    ['empty send', params(['target', 'h:1'], ['send', '']), [{ field: 'send', message: 'must not be empty; leave the key out instead' }]],
    ['empty expect', params(['target', 'h:1'], ['expect', '']), [{ field: 'expect', message: 'must not be empty; leave the key out instead' }]],
    ['expect longer than what is read', params(['target', 'h:1'], ['expect', 'x'.repeat(65_537)]), [{ field: 'expect', message: 'must be at most 65536 bytes (what an execution reads), got 65537' }]],
    ['timeout over the cap', params(['target', 'h:1'], ['timeout', '6m']), [{ field: 'timeout', message: 'must be at most 5m, got "6m"' }]],
    ['send given twice', params(['target', 'h:1'], ['send', 'a'], ['send', 'b']), [{ field: 'send', message: 'given more than once' }]],
    ['unknown key', params(['target', 'h:1'], ['url', 'http://h/']), [{ field: 'url', message: 'unknown key; tcp accepts target, send, expect, timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals' }]],
  ])('%s', (_name, input, issues) => {
    expect(issuesOf(input)).toEqual(issues);
  });

  it('a bad escape names the field and never quotes the value', () => {
    const issues = issuesOf(params(['target', 'h:1'], ['send', String.raw`AUTH hunter2-secret\q`], ['expect', String.raw`token-abc\x1`]));
    expect(issues.map((i) => i.field)).toEqual(['send', 'expect']);
    expect(issues[0]!.message).toContain(String.raw`unknown escape "\q" at character 20`);
    expect(issues[1]!.message).toContain(String.raw`\x at character 10 must be followed by two hex digits`);
    for (const i of issues) expect(i.message).not.toMatch(/hunter2|secret|token|abc|AUTH/);
  });

  it('reports every problem at once, in the line order', () => {
    const issues = issuesOf(params(['timeout', 'soon'], ['send', '\\'], ['bogus', '1'], ['target', 'h:0'], ['expect', '']));
    expect(issues.map((i) => i.field)).toEqual(['timeout', 'send', 'bogus', 'target', 'expect']);
  });

  it('missing target is reported beside the other problems', () => {
    expect(issuesOf(params(['send', '\\z'])).map((i) => i.field)).toEqual(['send', 'target']);
  });
});

// The built-ins are imported when a line names them; parseTestsText is synchronous, so load first.
const TESTS_FILE_REGISTRY = builtinProbeRegistry();
await TESTS_FILE_REGISTRY.load?.(['tcp']);

describe('tcp lines in a tests file', () => {
  const registry = TESTS_FILE_REGISTRY;
  it('a good line becomes a spec with the tcp defaults; a bad one is FILE:LINE: field: message', () => {
    const text = [
      'echo|tcp|600|none|target=127.0.0.1:7|send=PING\\r\\n|expect=PING',
      'bad|tcp|600|none|target=127.0.0.1:0|send=x\\y',
      'piped|tcp|60|none|target=h:1|expect=a%7Cb|concurrency=7',
    ].join('\n');
    const { specs, errors } = parseTestsText(text, '/etc/canihaz/tests.conf', { probeTypes: registry });
    expect(specs.map((s) => [s.name, s.type, s.concurrency, s.timeoutMs])).toEqual([
      ['echo', 'tcp', 100, 10_000],
      ['piped', 'tcp', 7, 10_000],
    ]);
    expect(specs[0]!.options).toEqual({ host: '127.0.0.1', port: 7, send: Buffer.from('PING\r\n'), expect: Buffer.from('PING'), timeoutMs: 10_000 });
    expect((specs[1]!.options as TcpProbeOptions).expect).toEqual(Buffer.from('a|b'));
    expect(errors.map(formatLineError)).toEqual([
      '/etc/canihaz/tests.conf:2: target: port must be 1-65535, got "0"',
      String.raw`/etc/canihaz/tests.conf:2: send: unknown escape "\y" at character 2; use \n, \r, \t, \\ or \xNN (two hex digits) (the value is not shown)`,
    ]);
  });
});
