import { describe, expect, it } from 'vitest';
import type { ParamIssue } from '../../src/probes/probe.js';
import { builtinProbeRegistry } from '../../src/probes/registry.js';
import { websocketProbeType } from '../../src/probes/websocket.js';
import type { WebSocketProbeOptions } from '../../src/probes/websocket-params.js';
import { NO_OPENSSL, testCerts } from '../support/certs.js';

/** Builds a ProbeParams map from `key=value` pairs, repeated keys collecting every value. */
function params(...pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [k, v] of pairs) map.set(k, [...(map.get(k) ?? []), v]);
  return map;
}

function issuesOf(input: Map<string, string[]>): ParamIssue[] {
  const parsed = websocketProbeType.parse(input);
  if (parsed.ok) throw new Error(`expected problems, got ${JSON.stringify(parsed.options)}`);
  return parsed.issues;
}

const DEFAULTS = { headers: [], send: undefined, expect: undefined, ca: undefined, timeoutMs: 10_000 };
const URL_WS = 'ws://echo.example.com:8080/socket';

describe('websocket params: accepted', () => {
  it.each<[string, Map<string, string[]>, WebSocketProbeOptions]>([
    ['a ws URL', params(['url', URL_WS]), { ...DEFAULTS, url: URL_WS }],
    ['a wss URL, fragment dropped', params(['url', 'wss://h.example/a?b=c#frag']), { ...DEFAULTS, url: 'wss://h.example/a?b=c' }],
    ['an IPv6 host', params(['url', 'ws://[::1]:9000/']), { ...DEFAULTS, url: 'ws://[::1]:9000/' }],
    [
      'headers in order, names as written',
      params(['url', URL_WS], ['header', 'Authorization: Bearer abc'], ['header', 'X-Trace:  1 ']),
      { ...DEFAULTS, url: URL_WS, headers: [['Authorization', 'Bearer abc'], ['X-Trace', '1']] },
    ],
    ['Sec-WebSocket-Protocol may be set', params(['url', URL_WS], ['header', 'Sec-WebSocket-Protocol: chat']), { ...DEFAULTS, url: URL_WS, headers: [['Sec-WebSocket-Protocol', 'chat']] }],
    [
      'send and expect with escapes',
      params(['url', URL_WS], ['send', String.raw`{"op":"ping"}\n`], ['expect', 'pong']),
      { ...DEFAULTS, url: URL_WS, send: '{"op":"ping"}\n', expect: 'pong' },
    ],
    ['UTF-8 text, written or escaped', params(['url', URL_WS], ['send', String.raw`é \xc3\xa9`]), { ...DEFAULTS, url: URL_WS, send: 'é é' }],
    ['expect alone (a greeting)', params(['url', URL_WS], ['expect', 'welcome']), { ...DEFAULTS, url: URL_WS, expect: 'welcome' }],
    ['timeout', params(['url', URL_WS], ['timeout', '1500ms']), { ...DEFAULTS, url: URL_WS, timeoutMs: 1500 }],
  ])('%s', (_name, input, options) => {
    expect(websocketProbeType.parse(input)).toEqual({ ok: true, options, timeoutMs: options.timeoutMs });
  });

  it('is a built-in type, 100 in flight by default', async () => {
    const registry = builtinProbeRegistry();
    await registry.load?.(['websocket']);
    expect(registry.get('websocket')).toBe(websocketProbeType);
    expect(websocketProbeType.defaultConcurrency).toBe(100);
  });
});

describe('websocket params: refused', () => {
  it.each<[string, Map<string, string[]>, ParamIssue[]]>([
    ['no url', params(['send', 'x']), [{ field: 'url', message: 'is required, e.g. url=wss://example.com/socket' }]],
    ['an http URL', params(['url', 'http://h/']), [{ field: 'url', message: 'expected an absolute ws:// or wss:// URL, got "http://h/"' }]],
    ['a relative URL', params(['url', '/socket']), [{ field: 'url', message: 'expected an absolute ws:// or wss:// URL, got "/socket"' }]],
    [
      'credentials in the URL',
      params(['url', 'wss://user:secret@h/']),
      [{ field: 'url', message: 'credentials in the URL are not sent; use header=Authorization: Basic … instead' }],
    ],
    ['a port fetch blocks', params(['url', 'ws://h:6000/']), [{ field: 'url', message: 'port 6000 is one the WebSocket client refuses (a "bad port" of the fetch standard)' }]],
    ['Upgrade', params(['url', URL_WS], ['header', 'Upgrade: h2c']), [{ field: 'header', message: 'Upgrade is set by the WebSocket client; remove it' }]],
    ['Sec-WebSocket-Key', params(['url', URL_WS], ['header', 'sec-websocket-key: abc']), [{ field: 'header', message: 'Sec-WebSocket-Key is set by the WebSocket client; remove it' }]],
    ['Host twice', params(['url', URL_WS], ['header', 'Host: a'], ['header', 'host: b']), [{ field: 'header', message: 'Host given more than once' }]],
    ['empty send', params(['url', URL_WS], ['send', '']), [{ field: 'send', message: 'must not be empty; leave the key out instead' }]],
    ['ca on ws://', params(['url', URL_WS], ['ca', '/nonexistent.pem']), [{ field: 'ca', message: 'cannot read "/nonexistent.pem": ENOENT' }]],
    ['an unknown key', params(['url', URL_WS], ['body', 'x']), [{ field: 'body', message: 'unknown key; websocket accepts url, header, send, expect, ca, timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals' }]],
    ['send twice', params(['url', URL_WS], ['send', 'a'], ['send', 'b']), [{ field: 'send', message: 'given more than once' }]],
  ])('%s', (_name, input, issues) => {
    expect(issuesOf(input)).toEqual(issues);
  });

  it('reports every problem at once, in the order of the line', () => {
    const issues = issuesOf(params(['timeout', '0s'], ['url', 'ftp://x/'], ['expect', String.raw`\q`]));
    expect(issues.map((i) => i.field)).toEqual(['timeout', 'url', 'expect']);
  });

  it('never quotes a header value, send or expect (they may hold secrets)', () => {
    const secret = 'hunter2-secret';
    const issues = issuesOf(
      params(['url', `wss://h/?token=${secret}`], ['header', `Authorization: Bearer ${secret}\x01`], ['send', `${secret}\\xff`], ['expect', `${secret}\\`], ['timeout', 'x']),
    );
    expect(issues.map((i) => i.field)).toEqual(['header', 'send', 'expect', 'timeout']);
    for (const issue of issues) expect(issue.message).not.toContain(secret);
  });

  it('send must be UTF-8 text', () => {
    expect(issuesOf(params(['url', URL_WS], ['send', String.raw`\xff`]))).toEqual([
      { field: 'send', message: String.raw`must be UTF-8 text (a WebSocket text message); its \xNN escapes make invalid UTF-8 (the value is not shown)` },
    ]);
  });

  const certs = testCerts();
  it.skipIf(!certs)(`ca= is read for wss:// and refused for ws://${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, () => {
    const path = certs!.ca.certPath;
    const parsed = websocketProbeType.parse(params(['url', 'wss://h/'], ['ca', path]));
    expect(parsed.ok && parsed.options.ca?.path).toBe(path);
    expect(parsed.ok && parsed.options.ca?.pem).toContain('-----BEGIN CERTIFICATE-----');
    expect(issuesOf(params(['url', URL_WS], ['ca', path]))).toEqual([{ field: 'ca', message: 'applies only to wss:// URLs' }]);
  });
});
