/**
 * The `key=value` fields of a websocket test: their defaults, their parsers (operator-facing messages
 * that never echo a header value, `send=` or `expect=`, which may hold a secret) and the options they
 * validate into.
 */
import { z } from 'zod';
import { quoteValue, redactUrl } from '../redact.js';
import { readCaFile, type CaFile } from './ca-file.js';
import { parseEscapes } from './escapes.js';
import { parseHeader } from './http-params.js';
import { field, paramsParser, timeoutField, type Parsed } from './params.js';
import type { ProbeType } from './probe.js';

/** Validated options of one websocket test; plain data, so two lines' options can be compared. */
export interface WebSocketProbeOptions {
  /** The absolute `ws:` or `wss:` URL (normalised, without fragment). Required. */
  url: string;
  /** Extra headers of the upgrade request, in the order given, names as written. Default none. */
  headers: [name: string, value: string][];
  /** A text message sent once open (escapes decoded). Default none. */
  send: string | undefined;
  /** Text a reply must contain (escapes decoded). Default none: with `send`, any reply will do. */
  expect: string | undefined;
  /** Certificates trusted beside the bundled roots, for wss:// to a private CA. Default none. */
  ca: CaFile | undefined;
  /** How long one execution may take, connect to the expected reply, in ms. Default 10 s, at most 5 m. */
  timeoutMs: number;
}

/** Default execution timeout of a websocket test. */
export const DEFAULT_WEBSOCKET_TIMEOUT_MS = 10_000;
/** Longest execution timeout a websocket test may set. */
export const MAX_WEBSOCKET_TIMEOUT_MS = 5 * 60_000;
/** Default cap on executions of one websocket test in flight at once (each holds one connection while it runs). */
export const DEFAULT_WEBSOCKET_CONCURRENCY = 100;
/** Longest `send=` or `expect=`, bytes of UTF-8. */
export const MAX_WEBSOCKET_TEXT_BYTES = 64 * 1024;

/**
 * The ports the WHATWG fetch standard blocks ("bad ports"), which undici's WebSocket refuses to
 * connect to without a word; a line naming one would fail on every execution.
 */
const BLOCKED_PORTS: ReadonlySet<string> = new Set(
  (
    '1 7 9 11 13 15 17 19 20 21 22 23 25 37 42 43 53 69 77 79 87 95 101 102 103 104 109 110 111 113 115 117 119 123 135 137 ' +
    '139 143 161 179 389 427 465 512 513 514 515 526 530 531 532 540 548 554 556 563 587 601 636 989 990 993 995 1719 1720 1723 ' +
    '2049 3659 4045 4190 5060 5061 6000 6566 6665 6666 6667 6668 6669 6679 6697 10080'
  ).split(' '),
);

/** Headers the WebSocket client sets itself for the upgrade; a line that sets one would break it. */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['upgrade', 'Upgrade is set by the WebSocket client; remove it'],
  ['connection', 'Connection is set by the WebSocket client; remove it'],
  ['sec-websocket-key', 'Sec-WebSocket-Key is set by the WebSocket client; remove it'],
  ['sec-websocket-version', 'Sec-WebSocket-Version is set by the WebSocket client; remove it'],
  ['sec-websocket-extensions', 'Sec-WebSocket-Extensions is set by the WebSocket client; remove it'],
  ['sec-websocket-accept', 'Sec-WebSocket-Accept is a response header; remove it'],
]);

function parseUrl(raw: string): Parsed<string> {
  const bad = { error: `expected an absolute ws:// or wss:// URL, got ${quoteValue(redactUrl(raw))}` };
  if (!/^wss?:\/\//i.test(raw) || !URL.canParse(raw)) return bad;
  const url = new URL(raw);
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.hostname === '') return bad;
  if (url.username !== '' || url.password !== '') {
    return { error: 'credentials in the URL are not sent; use header=Authorization: Basic … instead' };
  }
  if (BLOCKED_PORTS.has(url.port)) return { error: `port ${url.port} is one the WebSocket client refuses (a "bad port" of the fetch standard)` };
  url.hash = '';
  return { value: url.href };
}

/** `header=`: as http's (values never echoed), less the headers of the upgrade itself. */
function parseWebSocketHeader(raw: string): Parsed<[string, string]> {
  const colon = raw.indexOf(':');
  const refused = colon > 0 ? REFUSED_HEADERS.get(raw.slice(0, colon).toLowerCase()) : undefined;
  return refused ? { error: refused } : parseHeader(raw);
}

/** `send=` and `expect=`: text with the escapes of tcp's fields (`\n`, `\xNN` …), valid UTF-8, not empty. */
function parseText(raw: string): Parsed<string> {
  const parsed = parseEscapes(raw);
  if ('error' in parsed) return parsed;
  if (parsed.value.length === 0) return { error: 'must not be empty; leave the key out instead' };
  if (parsed.value.length > MAX_WEBSOCKET_TEXT_BYTES) return { error: `must be at most ${MAX_WEBSOCKET_TEXT_BYTES} bytes, got ${parsed.value.length}` };
  try {
    return { value: new TextDecoder('utf-8', { fatal: true }).decode(parsed.value) };
  } catch {
    return { error: 'must be UTF-8 text (a WebSocket text message); its \\xNN escapes make invalid UTF-8 (the value is not shown)' };
  }
}

const parseFields = paramsParser({
  type: 'websocket',
  shape: {
    url: field(parseUrl, 'is required, e.g. url=wss://example.com/socket'),
    header: z
      .array(field(parseWebSocketHeader))
      .default([])
      .superRefine((headers, ctx) => {
        if (headers.filter(([name]) => name.toLowerCase() === 'host').length > 1) {
          ctx.addIssue({ code: 'custom', message: 'Host given more than once' });
        }
      }),
    send: field(parseText).optional(),
    expect: field(parseText).optional(),
    ca: field(readCaFile).optional(),
    timeout: timeoutField({ defaultMs: DEFAULT_WEBSOCKET_TIMEOUT_MS, maxMs: MAX_WEBSOCKET_TIMEOUT_MS }),
  },
  repeatable: ['header'],
});

/** Validates a websocket line's key=value fields, reporting every problem at once. */
export const parseWebSocketParams: ProbeType<WebSocketProbeOptions>['parse'] = (params) => {
  const result = parseFields(params);
  if (!result.ok) return result;
  const { url, header, send, expect, ca, timeout } = result.data;
  if (ca && !url.startsWith('wss:')) return { ok: false, issues: [{ field: 'ca', message: 'applies only to wss:// URLs' }] };
  const options: WebSocketProbeOptions = { url, headers: header, send, expect, ca, timeoutMs: timeout };
  return { ok: true, options, timeoutMs: timeout };
};
