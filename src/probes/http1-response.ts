/**
 * An HTTP/1.x response parser for the http probe's own client (http1-pool.ts): a small state machine
 * over the bytes as they arrive, split anywhere. It reads the status, the few headers that frame the
 * response or say whether the connection may be kept (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive), and skips the body (Content-Length, chunked, or up to the close) without copying it.
 * Interim responses (1xx) are skipped; no body follows a HEAD request, a 204 or a 304.
 */
import * as f from './http1-fields.js';

/** Most bytes of a response's status line and headers (interim responses included), and of its trailers. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Most bytes of one chunk-size line (extensions included) or of the line ending a chunk. */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;

/** A response that is not HTTP/1.x as we read it; classified `other`. */
export class ResponseParseError extends Error {
  readonly code = 'CANIHAZ_HTTP_PARSE';
}

/** What `feed` found: more bytes needed, the response ended (at `end`), or it is malformed (`error`). */
export const NEED_MORE = 0;
export const COMPLETE = 1;
export const FAILED = 2;
export type FeedResult = typeof NEED_MORE | typeof COMPLETE | typeof FAILED;

// States: lines (status, headers, chunk sizes, chunk ends, trailers), counted bytes, the rest.
const STATUS = 0;
const HEADER = 1;
const CHUNK_SIZE = 2;
const CHUNK_END = 3;
const TRAILER = 4;
const BODY = 5;
const CHUNK_DATA = 6;
const UNTIL_CLOSE = 7;
const DONE = 8;

const LF = 10;
const CR = 13;
const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

/** Whether `b` has `HTTP/1.` at `s` (case-sensitive, as the grammar says). */
function isHttp1(b: Uint8Array, s: number): boolean {
  for (let i = 0; i < HTTP1.length; i++) if (b[s + i] !== HTTP1[i]) return false;
  return true;
}

/** Parses one response after another on a connection: `start()` before each request, then `feed()`. */
export class ResponseParser {
  /** The final status, once the headers are read. */
  status = 0;
  /** Whether the connection may carry another request after this response. */
  keepAlive = true;
  /** The server's `Keep-Alive: timeout=N`, ms, or -1 when it gave none. */
  keepAliveHintMs = -1;
  /** Where the response ended in the last buffer fed (COMPLETE). */
  end = 0;
  /** Why the response is malformed (FAILED). */
  error: ResponseParseError | undefined;

  #state = DONE;
  #noBody = false;
  #remaining = 0;
  /** Bytes the current run of lines may still take (the header block, a chunk line, the trailers). */
  #budget = 0;
  #http10 = false;
  #contentLength = -1;
  #transferEncoding = false;
  #chunked = false;
  #close = false;
  #keepAliveToken = false;
  /** An incomplete line carried over from the previous buffer. */
  #line: Buffer | undefined;
  #lineLength = 0;

  /** Expects a new response; `noBody` for a HEAD request. */
  start(noBody: boolean): void {
    this.#noBody = noBody;
    this.#state = STATUS;
    this.#budget = MAX_HEADER_BYTES;
    this.#lineLength = 0;
    this.status = 0;
    this.error = undefined;
    this.keepAliveHintMs = -1;
    this.#resetHeaders();
  }

  #resetHeaders(): void {
    this.#contentLength = -1;
    this.#transferEncoding = false;
    this.#chunked = false;
    this.#close = false;
    this.#keepAliveToken = false;
  }

  /** Reads `buf[start, end)`; bytes after a COMPLETE response are left (see `end`). */
  feed(buf: Uint8Array, start: number, end: number): FeedResult {
    let pos = start;
    while (pos < end) {
      const state = this.#state;
      if (state === BODY || state === CHUNK_DATA) {
        const n = Math.min(this.#remaining, end - pos);
        this.#remaining -= n;
        pos += n;
        if (this.#remaining > 0) return NEED_MORE;
        if (state === BODY) return this.#complete(pos);
        this.#lines(CHUNK_END, MAX_CHUNK_LINE_BYTES);
        continue;
      }
      if (state === UNTIL_CLOSE) return NEED_MORE;
      if (state === DONE) return this.#fail('more bytes than the response');
      let lf = pos;
      while (lf < end && buf[lf] !== LF) lf++;
      this.#budget -= lf - pos + (lf < end ? 1 : 0);
      if (this.#budget < 0) return this.#fail(state === HEADER || state === STATUS ? `header block longer than ${MAX_HEADER_BYTES} bytes` : 'line too long');
      if (lf === end) return this.#keep(buf, pos, end);
      let b = buf;
      let s = pos;
      let e = lf;
      if (this.#lineLength > 0) {
        this.#append(buf, pos, lf);
        b = this.#line!;
        s = 0;
        e = this.#lineLength;
        this.#lineLength = 0;
      }
      if (e > s && b[e - 1] === CR) e--;
      pos = lf + 1;
      const result = this.#onLine(b, s, e, pos);
      if (result !== NEED_MORE) return result;
    }
    return NEED_MORE;
  }

  /** The connection closed: true when that ends the response (a body delimited by the close). */
  close(): boolean {
    if (this.#state !== UNTIL_CLOSE) return false;
    this.#state = DONE;
    return true;
  }

  #onLine(b: Uint8Array, s: number, e: number, pos: number): FeedResult {
    switch (this.#state) {
      case STATUS:
        return s === e ? NEED_MORE : this.#statusLine(b, s, e);
      case HEADER:
        return s === e ? this.#headersDone(pos) : this.#header(b, s, e);
      case CHUNK_SIZE:
        return this.#chunkSize(b, s, e);
      case CHUNK_END:
        if (s !== e) return this.#fail('chunk longer than its size');
        this.#lines(CHUNK_SIZE, MAX_CHUNK_LINE_BYTES);
        return NEED_MORE;
      default:
        // A trailer: read and ignored; an empty line ends the response.
        return s === e ? this.#complete(pos) : NEED_MORE;
    }
  }

  #statusLine(b: Uint8Array, s: number, e: number): FeedResult {
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (e - s < 12 || !isHttp1(b, s) || b[s + 8] !== 32 || (e - s > 12 && b[s + 12] !== 32)) return this.#fail('malformed status line');
    const minor = b[s + 7]!;
    const d0 = b[s + 9]! - 48;
    const d1 = b[s + 10]! - 48;
    const d2 = b[s + 11]! - 48;
    if (minor < 48 || minor > 57 || d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.#fail('malformed status line');
    this.#http10 = minor === 48;
    this.status = d0 * 100 + d1 * 10 + d2;
    this.#state = HEADER;
    return NEED_MORE;
  }

  #header(b: Uint8Array, s: number, e: number): FeedResult {
    // A folded continuation line (obsolete): part of the previous value, which we never need whole.
    if (f.isOws(b[s])) return NEED_MORE;
    let colon = s;
    while (colon < e && b[colon] !== 58) {
      if (f.isOws(b[colon])) return this.#fail('malformed header line');
      colon++;
    }
    if (colon === e || colon === s) return this.#fail('malformed header line');
    const length = colon - s;
    if (length !== 10 && length !== 14 && length !== 17) return NEED_MORE;
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && f.isOws(b[vs])) vs++;
    while (ve > vs && f.isOws(b[ve - 1])) ve--;
    if (f.isWord(b, s, colon, f.CONTENT_LENGTH)) {
      const n = f.contentLength(b, vs, ve);
      if (n < 0) return this.#fail('bad content-length');
      if (this.#contentLength >= 0 && this.#contentLength !== n) return this.#fail('conflicting content-length headers');
      this.#contentLength = n;
    } else if (f.isWord(b, s, colon, f.TRANSFER_ENCODING)) {
      // The last coding decides: chunked, or the body runs to the close.
      this.#transferEncoding = true;
      this.#chunked = f.lastCodingIsChunked(b, vs, ve);
    } else if (f.isWord(b, s, colon, f.CONNECTION)) {
      const tokens = f.connectionTokens(b, vs, ve);
      if (tokens & f.CONNECTION_CLOSE) this.#close = true;
      if (tokens & f.CONNECTION_KEEP_ALIVE) this.#keepAliveToken = true;
    } else if (f.isWord(b, s, colon, f.KEEP_ALIVE)) {
      const ms = f.keepAliveTimeoutMs(b, vs, ve);
      if (ms >= 0) this.keepAliveHintMs = ms;
    }
    return NEED_MORE;
  }

  #headersDone(pos: number): FeedResult {
    const status = this.status;
    if (status < 200 && status !== 101) {
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      this.#state = STATUS;
      this.keepAliveHintMs = -1;
      this.#resetHeaders();
      return NEED_MORE;
    }
    this.keepAlive = status !== 101 && !this.#close && (!this.#http10 || this.#keepAliveToken);
    if (this.#noBody || status === 204 || status === 304 || status === 101) return this.#complete(pos);
    if (this.#transferEncoding) {
      // With a Content-Length too, the framing is ambiguous: read by the coding, then close.
      if (this.#contentLength >= 0) this.keepAlive = false;
      if (this.#chunked) {
        this.#lines(CHUNK_SIZE, MAX_CHUNK_LINE_BYTES);
        return NEED_MORE;
      }
    } else if (this.#contentLength >= 0) {
      if (this.#contentLength === 0) return this.#complete(pos);
      this.#remaining = this.#contentLength;
      this.#state = BODY;
      return NEED_MORE;
    }
    this.keepAlive = false;
    this.#state = UNTIL_CLOSE;
    return NEED_MORE;
  }

  /** A chunk-size line: 0 starts the trailers. */
  #chunkSize(b: Uint8Array, s: number, e: number): FeedResult {
    const size = f.chunkSize(b, s, e);
    if (size < 0) return this.#fail('bad chunk size');
    if (size === 0) {
      this.#lines(TRAILER, MAX_HEADER_BYTES);
      return NEED_MORE;
    }
    this.#remaining = size;
    this.#state = CHUNK_DATA;
    return NEED_MORE;
  }

  #lines(state: number, budget: number): void {
    this.#state = state;
    this.#budget = budget;
  }

  /** Keeps the start of a line the next buffer ends. */
  #keep(buf: Uint8Array, s: number, e: number): FeedResult {
    this.#append(buf, s, e);
    // A status line that cannot be one fails now, not at the timeout.
    const line = this.#line!;
    if (this.#state === STATUS && line[0] !== CR) {
      for (let i = 0; i < this.#lineLength && i < HTTP1.length; i++) if (line[i] !== HTTP1[i]) return this.#fail('malformed status line');
    }
    return NEED_MORE;
  }

  #append(buf: Uint8Array, s: number, e: number): void {
    const need = this.#lineLength + (e - s);
    let line = this.#line;
    if (!line || line.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(256, need, line ? line.length * 2 : 0));
      if (line) line.copy(grown, 0, 0, this.#lineLength);
      this.#line = line = grown;
    }
    line.set(buf.subarray(s, e), this.#lineLength);
    this.#lineLength = need;
  }

  #complete(pos: number): FeedResult {
    this.#state = DONE;
    this.end = pos;
    return COMPLETE;
  }

  #fail(message: string): FeedResult {
    this.#state = DONE;
    this.error = new ResponseParseError(`invalid HTTP response: ${message}`);
    return FAILED;
  }
}
