/**
 * The `key=value` fields of an http test: their defaults, their parsers (each with an operator-facing
 * message that never echoes a secret) and the options they validate into.
 */
import { z } from 'zod';
import { describeChar, quotePrefix, quoteValue, redactUrl } from '../redact.js';
import { readCaFile, type CaFile } from './ca-file.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ProbeType } from './probe.js';

/** An inclusive range of HTTP status codes that count as success. */
export interface StatusRange {
  min: number;
  max: number;
}

/** Validated options of one http test; plain data, so two lines' options can be compared. */
export interface HttpProbeOptions {
  /** The absolute `http:` or `https:` URL requested (normalised, without fragment). Required. */
  url: string;
  /** The request method, upper-cased. Default `GET`. */
  method: string;
  /** How long one execution may take, connect to last body byte, in ms. Default 10 s, at most 5 m. */
  timeoutMs: number;
  /** Statuses that count as success. Default 200-399. */
  expect: StatusRange[];
  /** Extra request headers in the order given, names as written. Default none. */
  headers: [name: string, value: string][];
  /** The request body, sent as given. Default none. */
  body: string | undefined;
  /** Certificates trusted beside Node's bundled roots for an https URL (read when the line is parsed). Default none. */
  ca?: CaFile | undefined;
}

/** Default execution timeout of an http test. */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
/** Longest execution timeout an http test may set. */
export const MAX_HTTP_TIMEOUT_MS = 5 * 60_000;
/** Default statuses that count as success: 2xx and 3xx (redirects are not followed). */
export const DEFAULT_HTTP_EXPECT: readonly StatusRange[] = [{ min: 200, max: 399 }];
/** Default cap on executions of one http test in flight at once. */
export const DEFAULT_HTTP_CONCURRENCY = 100;

/** RFC 9110 `token`: what a method or header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters undici refuses in a header value (everything but tab, visible ASCII and obs-text). */
const HEADER_VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers undici sets itself or refuses; a line that sets one would fail on every execution. */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['content-length', 'Content-Length is computed from body; remove it'],
  ['transfer-encoding', 'Transfer-Encoding cannot be set; the body is sent with a Content-Length'],
  ['keep-alive', 'Keep-Alive cannot be set; connections are kept alive already'],
  ['upgrade', 'Upgrade cannot be set on an http test'],
  ['expect', 'Expect cannot be set on an http test'],
]);


function parseUrl(raw: string): Parsed<string> {
  const bad = { error: `expected an absolute http:// or https:// URL, got ${quoteValue(redactUrl(raw))}` };
  if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw)) return bad;
  const url = new URL(raw);
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return bad;
  if (url.username !== '' || url.password !== '') {
    return { error: 'credentials in the URL are not sent; use header=Authorization: Basic … instead' };
  }
  url.hash = '';
  return { value: url.href };
}

function parseMethod(raw: string): Parsed<string> {
  if (!TOKEN.test(raw)) return { error: `expected an HTTP method such as GET, POST or HEAD, got ${quoteValue(raw)}` };
  const method = raw.toUpperCase();
  if (method === 'CONNECT') return { error: 'CONNECT is not supported' };
  return { value: method };
}

function parseStatus(text: string): number | undefined {
  const code = Number(text);
  return code >= 100 && code <= 599 ? code : undefined;
}

function parseExpect(raw: string): Parsed<StatusRange[]> {
  const ranges: StatusRange[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const cls = /^([1-5])xx$/i.exec(part);
    const range = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (cls) {
      const min = Number(cls[1]) * 100;
      ranges.push({ min, max: min + 99 });
    } else if (range) {
      const min = parseStatus(range[1]!);
      const max = parseStatus(range[2] ?? range[1]!);
      if (min === undefined || max === undefined) return { error: `status codes are 100-599, got ${quoteValue(part)}` };
      if (min > max) return { error: `range ${quoteValue(part)} runs backwards; write ${range[2]}-${range[1]}` };
      ranges.push({ min, max });
    } else {
      return { error: `expected status codes (200), classes (2xx) or ranges (200-299) separated by commas, got ${quoteValue(raw)}` };
    }
  }
  return { value: ranges };
}

/** Header values may be credentials: messages name the header, never quote its value. */
export function parseHeader(raw: string): Parsed<[string, string]> {
  const colon = raw.indexOf(':');
  if (colon <= 0) return { error: `expected "Name: Value", got ${quotePrefix(raw)}` };
  const name = raw.slice(0, colon);
  const value = raw.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (!TOKEN.test(name)) {
    const at = [...name].findIndex((ch) => !TOKEN.test(ch));
    return {
      error: `header name must be letters, digits or !#$%&'*+-.^_\`|~ with no spaces, got ${quotePrefix(name)} (${describeChar([...name][at]!)} at character ${at + 1})`,
    };
  }
  if (/[\r\n]/.test(value)) return { error: `value of ${name} must not contain CR or LF` };
  const forbidden = HEADER_VALUE_FORBIDDEN.exec(value);
  if (forbidden) {
    return {
      error: `value of ${name} must be printable Latin-1 text (no control characters); it has ${describeChar(forbidden[0])} at character ${forbidden.index + 1} (the value is not shown)`,
    };
  }
  const refused = REFUSED_HEADERS.get(name.toLowerCase());
  if (refused) return { error: refused };
  if (name.toLowerCase() === 'connection' && !value.split(',').every((t) => TOKEN.test(t.trim()))) {
    return { error: 'Connection must be a comma list of tokens such as close' };
  }
  return { value: [name, value] };
}

const parseFields = paramsParser({
  type: 'http',
  shape: {
    url: field(parseUrl, 'is required, e.g. url=https://example.com/health'),
    method: field(parseMethod).default('GET'),
    timeout: timeoutField({ defaultMs: DEFAULT_HTTP_TIMEOUT_MS, maxMs: MAX_HTTP_TIMEOUT_MS }),
    expect: field(parseExpect).default(() => DEFAULT_HTTP_EXPECT.map((r) => ({ ...r }))),
    header: z
      .array(field(parseHeader))
      .default([])
      .superRefine((headers, ctx) => {
        if (headers.filter(([name]) => name.toLowerCase() === 'host').length > 1) {
          ctx.addIssue({ code: 'custom', message: 'Host given more than once' });
        }
      }),
    body: z.string().optional(),
    ca: field(readCaFile).optional(),
  },
  repeatable: ['header'],
});

/** Validates an http line's key=value fields, reporting every problem at once. */
export const parseHttpParams: ProbeType<HttpProbeOptions>['parse'] = (params) => {
  const result = parseFields(params);
  if (!result.ok) return result;
  const { url, method, timeout, expect, header, body, ca } = result.data;
  if (ca && !url.startsWith('https:')) return { ok: false, issues: [{ field: 'ca', message: 'applies only to https:// URLs' }] };
  const options: HttpProbeOptions = { url, method, timeoutMs: timeout, expect, headers: header, body, ...(ca ? { ca } : {}) };
  return { ok: true, options, timeoutMs: timeout };
};
