/**
 * The header values and chunk-size lines the http probe's response parser (http1-response.ts) reads,
 * parsed straight from the bytes (`b[s, e)`, already without their line end): no strings built.
 */

const names = (s: string) => Buffer.from(s, 'latin1');
/** Lower-case header names and tokens, matched in any case. */
export const CONTENT_LENGTH = names('content-length');
export const TRANSFER_ENCODING = names('transfer-encoding');
export const CONNECTION = names('connection');
export const KEEP_ALIVE = names('keep-alive');
const CHUNKED = names('chunked');
const CLOSE = names('close');
const TIMEOUT = names('timeout');

/** `Connection` tokens, as bits. */
export const CONNECTION_CLOSE = 1;
export const CONNECTION_KEEP_ALIVE = 2;

/** Space or tab. */
export const isOws = (c: number | undefined): boolean => c === 32 || c === 9;

/** Whether `b[s, e)` is `word` (lower-case letters and '-'), ASCII letters in any case. */
export function isWord(b: Uint8Array, s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    let c = b[s + i]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== word[i]) return false;
  }
  return true;
}

/** A Content-Length value: its digits (at most 15), or -1. */
export function contentLength(b: Uint8Array, s: number, e: number): number {
  if (s === e || e - s > 15) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Whether the last coding of a Transfer-Encoding value is `chunked`. */
export function lastCodingIsChunked(b: Uint8Array, s: number, e: number): boolean {
  return e - s >= 7 && isWord(b, e - 7, e, CHUNKED) && (e - s === 7 || b[e - 8] === 44 || isOws(b[e - 8]));
}

/** The end of the comma-separated item starting at `i` (a comma or `e`). */
function itemEnd(b: Uint8Array, i: number, e: number): number {
  while (i < e && b[i] !== 44) i++;
  return i;
}

/** The `close` and `keep-alive` tokens of a Connection value, as CONNECTION_* bits. */
export function connectionTokens(b: Uint8Array, s: number, e: number): number {
  let flags = 0;
  // Bounded: each item moves `i` past its comma.
  for (let i = s; i <= e; ) {
    const j = itemEnd(b, i, e);
    let is = i;
    let ie = j;
    while (is < ie && isOws(b[is])) is++;
    while (ie > is && isOws(b[ie - 1])) ie--;
    if (isWord(b, is, ie, CLOSE)) flags |= CONNECTION_CLOSE;
    else if (isWord(b, is, ie, KEEP_ALIVE)) flags |= CONNECTION_KEEP_ALIVE;
    i = j + 1;
  }
  return flags;
}

/** `Keep-Alive: timeout=5, max=100`: the timeout in ms, or -1 when it has none. */
export function keepAliveTimeoutMs(b: Uint8Array, s: number, e: number): number {
  let ms = -1;
  for (let i = s; i <= e; ) {
    const j = itemEnd(b, i, e);
    let is = i;
    while (is < j && isOws(b[is])) is++;
    let eq = is;
    while (eq < j && b[eq] !== 61) eq++;
    let ne = eq;
    while (ne > is && isOws(b[ne - 1])) ne--;
    if (eq < j && isWord(b, is, ne, TIMEOUT)) {
      let d = eq + 1;
      while (d < j && isOws(b[d])) d++;
      let seconds = 0;
      let digits = 0;
      for (; d < j && b[d]! >= 48 && b[d]! <= 57 && digits < 9; d++, digits++) seconds = seconds * 10 + b[d]! - 48;
      if (digits > 0) ms = seconds * 1000;
    }
    i = j + 1;
  }
  return ms;
}

/** A chunk-size line, `1a3f[;ext=value]`: the size (at most 13 hex digits), or -1. */
export function chunkSize(b: Uint8Array, s: number, e: number): number {
  let size = 0;
  let i = s;
  for (; i < e && i - s <= 13; i++) {
    const c = b[i]!;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) break;
    size = size * 16 + d;
  }
  if (i === s || i - s > 13) return -1;
  while (i < e && isOws(b[i])) i++;
  return i < e && b[i] !== 59 ? -1 : size;
}
