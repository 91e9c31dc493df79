import { describe, expect, it } from 'vitest';
import { httpProbeType } from '../../src/probes/http.js';
import type { HttpProbeOptions } from '../../src/probes/http-params.js';
import { classifyNetError } from '../../src/probes/net-errors.js';
import type { ParamIssue } from '../../src/probes/probe.js';

/** Builds a ProbeParams map from `key=value` pairs, repeated keys collecting every value. */
function params(...pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [k, v] of pairs) map.set(k, [...(map.get(k) ?? []), v]);
  return map;
}

const DEFAULTS: Omit<HttpProbeOptions, 'url'> = {
  method: 'GET',
  timeoutMs: 10_000,
  expect: [{ min: 200, max: 399 }],
  headers: [],
  body: undefined,
};
const URL_MESSAGE = (got: string) => `expected an absolute http:// or https:// URL, got "${got}"`;
const UNKNOWN = 'unknown key; http accepts url, method, timeout, expect, header, body, ca, concurrency, start, end, for, step, ramp, then, repeat, arrivals';

describe('http params: accepted', () => {
  it.each<[string, Map<string, string[]>, HttpProbeOptions]>([
    ['url only, defaults', params(['url', 'http://example.com/health']), { ...DEFAULTS, url: 'http://example.com/health' }],
    ['https, query kept, fragment dropped', params(['url', 'https://example.com:8443/a?b=1#frag']), { ...DEFAULTS, url: 'https://example.com:8443/a?b=1' }],
    ['scheme in capitals', params(['url', 'HTTP://Example.COM']), { ...DEFAULTS, url: 'http://example.com/' }],
    ['IPv6 literal', params(['url', 'http://[::1]:8080/']), { ...DEFAULTS, url: 'http://[::1]:8080/' }],
    ['method upper-cased', params(['url', 'http://h/'], ['method', 'post']), { ...DEFAULTS, url: 'http://h/', method: 'POST' }],
    ['custom method token', params(['url', 'http://h/'], ['method', 'PURGE']), { ...DEFAULTS, url: 'http://h/', method: 'PURGE' }],
    ['timeout 1.5s', params(['url', 'http://h/'], ['timeout', '1.5s']), { ...DEFAULTS, url: 'http://h/', timeoutMs: 1_500 }],
    ['timeout at the 5m cap', params(['url', 'http://h/'], ['timeout', '5m']), { ...DEFAULTS, url: 'http://h/', timeoutMs: 300_000 }],
    [
      'expect mixes codes, classes and ranges',
      params(['url', 'http://h/'], ['expect', '200,204, 3XX,401-403']),
      {
        ...DEFAULTS,
        url: 'http://h/',
        expect: [
          { min: 200, max: 200 },
          { min: 204, max: 204 },
          { min: 300, max: 399 },
          { min: 401, max: 403 },
        ],
      },
    ],
    [
      'headers repeat, keep order and case, trim the value',
      params(['url', 'http://h/'], ['header', 'X-A: 1'], ['header', 'x-a:2 '], ['header', 'Host: vhost.example'], ['header', 'X-Empty:']),
      { ...DEFAULTS, url: 'http://h/', headers: [['X-A', '1'], ['x-a', '2'], ['Host', 'vhost.example'], ['X-Empty', '']] },
    ],
    ['Connection: close allowed', params(['url', 'http://h/'], ['header', 'Connection: close']), { ...DEFAULTS, url: 'http://h/', headers: [['Connection', 'close']] }],
    ['header value with colons', params(['url', 'http://h/'], ['header', 'Authorization: Basic a:b']), { ...DEFAULTS, url: 'http://h/', headers: [['Authorization', 'Basic a:b']] }],
    ['body as given', params(['url', 'http://h/'], ['method', 'POST'], ['body', '{"a": 1}']), { ...DEFAULTS, url: 'http://h/', method: 'POST', body: '{"a": 1}' }],
  ])('%s', (_name, input, options) => {
    expect(httpProbeType.parse(input)).toEqual({ ok: true, options, timeoutMs: options.timeoutMs });
  });
});

describe('http params: rejected with every issue', () => {
  it.each<[string, Map<string, string[]>, ParamIssue[]]>([
    ['missing url', params(), [{ field: 'url', message: 'is required, e.g. url=https://example.com/health' }]],
    ['not a URL', params(['url', 'foo']), [{ field: 'url', message: URL_MESSAGE('foo') }]],
    ['empty url', params(['url', '']), [{ field: 'url', message: URL_MESSAGE('') }]],
    ['ftp scheme', params(['url', 'ftp://h/']), [{ field: 'url', message: URL_MESSAGE('ftp://h/') }]],
    ['no slashes', params(['url', 'http:h']), [{ field: 'url', message: URL_MESSAGE('http:h') }]],
    ['relative', params(['url', '/health']), [{ field: 'url', message: URL_MESSAGE('/health') }]],
    ['bad port', params(['url', 'http://h:99999/']), [{ field: 'url', message: URL_MESSAGE('http://h:99999/') }]],
    [
      'credentials in url',
      params(['url', 'http://u:p@h/']),
      [{ field: 'url', message: 'credentials in the URL are not sent; use header=Authorization: Basic … instead' }],
    ],
    ['url twice', params(['url', 'http://a/'], ['url', 'http://b/']), [{ field: 'url', message: 'given more than once' }]],
    ['url twice, one invalid: one issue', params(['url', 'foo'], ['url', 'http://b/']), [{ field: 'url', message: 'given more than once' }]],
    [
      'method not a token',
      params(['url', 'http://h/'], ['method', 'GE T']),
      [{ field: 'method', message: 'expected an HTTP method such as GET, POST or HEAD, got "GE T"' }],
    ],
    ['CONNECT', params(['url', 'http://h/'], ['method', 'connect']), [{ field: 'method', message: 'CONNECT is not supported' }]],
    ['timeout without unit', params(['url', 'http://h/'], ['timeout', '5']), [{ field: 'timeout', message: '"5" has no unit; add one, e.g. 5s or 5ms' }]],
    ['timeout zero', params(['url', 'http://h/'], ['timeout', '0s']), [{ field: 'timeout', message: 'must be greater than zero, got "0s"' }]],
    ['timeout over 5m', params(['url', 'http://h/'], ['timeout', '301s']), [{ field: 'timeout', message: 'must be at most 5m, got "301s"' }]],
    // Regression (issue 6): "Timeouts that pass check and fail every execution".
    ['timeout 1.0005s (not whole ms)', params(['url', 'http://h/'], ['timeout', '1.0005s']), [{ field: 'timeout', message: 'must be a whole number of milliseconds, got "1.0005s"; write e.g. 1001ms' }]],
    ['timeout 1.5ms (not whole ms)', params(['url', 'http://h/'], ['timeout', '1.5ms']), [{ field: 'timeout', message: 'must be a whole number of milliseconds, got "1.5ms"; write e.g. 2ms' }]],
    ['timeout 0.0001ms (not whole ms)', params(['url', 'http://h/'], ['timeout', '0.0001ms']), [{ field: 'timeout', message: 'must be a whole number of milliseconds, got "0.0001ms"; write e.g. 1ms' }]],
    [
      'expect garbage',
      params(['url', 'http://h/'], ['expect', 'ok']),
      [{ field: 'expect', message: 'expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got "ok"' }],
    ],
    [
      'expect empty entry',
      params(['url', 'http://h/'], ['expect', '200,']),
      [{ field: 'expect', message: 'expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got "200,"' }],
    ],
    ['expect 6xx', params(['url', 'http://h/'], ['expect', '6xx']), [{ field: 'expect', message: 'expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got "6xx"' }]],
    ['expect code out of range', params(['url', 'http://h/'], ['expect', '200,600']), [{ field: 'expect', message: 'status codes are 100-599, got "600"' }]],
    ['expect range backwards', params(['url', 'http://h/'], ['expect', '299-200']), [{ field: 'expect', message: 'range "299-200" runs backwards; write 200-299' }]],
    ['header without colon', params(['url', 'http://h/'], ['header', 'X-A 1']), [{ field: 'header', message: 'expected "Name: Value", got "X-A…"' }]],
    ['header without name', params(['url', 'http://h/'], ['header', ': 1']), [{ field: 'header', message: 'expected "Name: Value", got 3 characters (not shown)' }]],
    [
      'header name with a space',
      params(['url', 'http://h/'], ['header', 'X A: 1']),
      [{ field: 'header', message: 'header name must be letters, digits or !#$%&\'*+-.^_`|~ with no spaces, got "X…" (U+0020 at character 2)' }],
    ],
    [
      'header value with CR LF',
      params(['url', 'http://h/'], ['header', 'X-A: 1\r\nX-Injected: 2']),
      [{ field: 'header', message: 'value of X-A must not contain CR or LF' }],
    ],
    [
      'header value with a NUL',
      params(['url', 'http://h/'], ['header', 'X-A: a\u0000b']),
      [{ field: 'header', message: 'value of X-A must be printable Latin-1 text (no control characters); it has U+0000 at character 2 (the value is not shown)' }],
    ],
    [
      'header value beyond Latin-1',
      params(['url', 'http://h/'], ['header', 'X-A: 5€']),
      [{ field: 'header', message: 'value of X-A must be printable Latin-1 text (no control characters); it has U+20AC at character 2 (the value is not shown)' }],
    ],
    ['Content-Length', params(['url', 'http://h/'], ['header', 'content-length: 3']), [{ field: 'header', message: 'Content-Length is computed from body; remove it' }]],
    ['Expect', params(['url', 'http://h/'], ['header', 'Expect: 100-continue']), [{ field: 'header', message: 'Expect cannot be set on an http test' }]],
    ['Host twice', params(['url', 'http://h/'], ['header', 'Host: a'], ['header', 'host: b']), [{ field: 'header', message: 'Host given more than once' }]],
    ['Connection not tokens', params(['url', 'http://h/'], ['header', 'Connection: a b']), [{ field: 'header', message: 'Connection must be a comma list of tokens such as close' }]],
    ['body twice', params(['url', 'http://h/'], ['body', 'a'], ['body', 'b']), [{ field: 'body', message: 'given more than once' }]],
    ['unknown key', params(['url', 'http://h/'], ['tiemout', '5s']), [{ field: 'tiemout', message: UNKNOWN }]],
    [
      'every problem at once, in the order the keys were written',
      params(['method', 'G T'], ['bogus', 'x'], ['timeout', '5'], ['timeout', '6'], ['expect', 'nope'], ['header', 'bad'], ['header', 'X-B: ok']),
      [
        { field: 'method', message: 'expected an HTTP method such as GET, POST or HEAD, got "G T"' },
        { field: 'bogus', message: UNKNOWN },
        { field: 'timeout', message: 'given more than once' },
        { field: 'expect', message: 'expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got "nope"' },
        { field: 'header', message: 'expected "Name: Value", got one word of 3 characters (not shown)' },
        { field: 'url', message: 'is required, e.g. url=https://example.com/health' },
      ],
    ],
  ])('%s', (_name, input, issues) => {
    expect(httpProbeType.parse(input)).toEqual({ ok: false, issues });
  });
});

// Regression (issue 6): "Secrets in error messages" — a malformed URL or a bad header value was quoted whole.
describe('http params: secrets in error messages are never echoed', () => {
  const SECRET = 'hunter2hunter2';
  it.each<[string, Map<string, string[]>, string]>([
    ['userinfo of a malformed URL', params(['url', `http://user:${SECRET}@bad host/`]), URL_MESSAGE('http://***@bad host/')],
    ['userinfo of a URL with a bad port', params(['url', `http://user:${SECRET}@h:99999/`]), URL_MESSAGE('http://***@h:99999/')],
    ['userinfo of a non-http URL', params(['url', `ftp://user:${SECRET}@h/`]), URL_MESSAGE('ftp://***@h/')],
    ['query of a malformed URL, keys kept', params(['url', `http://bad host/?token=${SECRET}&page=2&flag`]), URL_MESSAGE('http://bad host/?token=***&page=***&***')],
    ['query of a relative URL', params(['url', `/x?access_token=${SECRET}`]), URL_MESSAGE('/x?access_token=***')],
    ['fragment of a bad URL', params(['url', `htp://h/#access_token=${SECRET}`]), URL_MESSAGE('htp://h/#***')],
    ['password holding # and /', params(['url', `http://u:a#b/${SECRET}@h:0x/`]), URL_MESSAGE('http://***@h:0x/')],
    ['a control character in a header value', params(['url', 'http://h/'], ['header', `Authorization: Bearer ${SECRET}\u0001`]), 'U+0001 at character 22'],
    ['header value on a header without a colon', params(['url', 'http://h/'], ['header', `Authorization Bearer ${SECRET}`]), '"Authorization…"'],
    ['header value after a bad name', params(['url', 'http://h/'], ['header', `Bad Name ${SECRET}: x`]), '"Bad…" (U+0020 at character 4)'],
    ['Connection header value', params(['url', 'http://h/'], ['header', `Connection: ${SECRET} x`]), 'Connection must be a comma list of tokens'],
  ])('%s', (_name, input, shown) => {
    const result = httpProbeType.parse(input);
    expect(result.ok).toBe(false);
    const text = JSON.stringify(result);
    expect(text).not.toContain(SECRET);
    expect(text).toContain(JSON.stringify(shown).slice(1, -1));
  });
});

describe('http probe type', () => {
  it('is named http with a default concurrency of 100', () => {
    expect(httpProbeType.name).toBe('http');
    expect(httpProbeType.defaultConcurrency).toBe(100);
  });
});

describe('classifyNetError', () => {
  const coded = (code: string, extra: object = {}) => Object.assign(new Error(code), { code }, extra);
  it.each<[string, unknown, string]>([
    ['undici connect timeout', coded('UND_ERR_CONNECT_TIMEOUT'), 'timeout'],
    ['undici headers timeout', coded('UND_ERR_HEADERS_TIMEOUT'), 'timeout'],
    ['undici body timeout', coded('UND_ERR_BODY_TIMEOUT'), 'timeout'],
    ['kernel timeout', coded('ETIMEDOUT'), 'timeout'],
    ['refused', coded('ECONNREFUSED'), 'refused'],
    ['refused on every address (happy eyeballs)', new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]), 'refused'],
    ['no such name', coded('ENOTFOUND'), 'dns'],
    ['resolver unreachable', coded('EAI_AGAIN'), 'dns'],
    ['reset', coded('ECONNRESET'), 'reset'],
    ['broken pipe', coded('EPIPE'), 'reset'],
    ['undici other side closed', coded('UND_ERR_SOCKET'), 'reset'],
    ['wrapped in a cause', new Error('fetch failed', { cause: coded('ECONNRESET') }), 'reset'],
    ['plain http port', coded('ERR_SSL_WRONG_VERSION_NUMBER', { library: 'SSL routines' }), 'tls'],
    ['self-signed', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls'],
    ['expired', coded('CERT_HAS_EXPIRED'), 'tls'],
    ['wrong name', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    ['OpenSSL error with a generic code', coded('ERR_OSSL_BAD_DECRYPT', { library: 'Provider routines' }), 'tls'],
    ['anything else', new Error('boom'), 'other'],
    ['not an error at all', 'boom', 'other'],
  ])('%s → %s', (_name, err, reason) => {
    expect(classifyNetError(err)).toBe(reason);
  });
});
