/** The http probe's own response parser (http1-response.ts): framing, interim responses, bounds, any split. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPLETE, FAILED, MAX_HEADER_BYTES, NEED_MORE, ResponseParser } from '../../src/probes/http1-response.js';

interface Outcome {
  result: 'complete' | 'failed' | 'more';
  status?: number;
  keepAlive?: boolean;
  hintMs?: number;
  /** Bytes left after the response (complete). */
  rest?: number;
  /** What the close says when the bytes run out (more). */
  closeEnds?: boolean;
  error?: string;
}

/** Feeds `bytes` in pieces cut at `cuts` (offsets), as reads would deliver them. */
function parse(text: string | Buffer, options: { head?: boolean; cuts?: number[] } = {}): Outcome {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const parser = new ResponseParser();
  parser.start(options.head ?? false);
  const edges = [...new Set([0, ...(options.cuts ?? []).filter((c) => c > 0 && c < bytes.length), bytes.length])].sort((a, b) => a - b);
  let consumed = 0;
  for (let i = 0; i + 1 < edges.length; i++) {
    // Each read lands at the start of a larger buffer holding stale bytes after it, as the shared one does.
    const piece = Buffer.concat([bytes.subarray(edges[i], edges[i + 1]), Buffer.from('\n\nHTTP/1.1 500 stale\r\n\r\n')]);
    const n = edges[i + 1]! - edges[i]!;
    const r = parser.feed(piece, 0, n);
    if (r === COMPLETE) return { result: 'complete', status: parser.status, keepAlive: parser.keepAlive, hintMs: parser.keepAliveHintMs, rest: n - parser.end + (bytes.length - edges[i + 1]!) };
    if (r === FAILED) {
      expect(parser.error).toMatchObject({ code: 'CANIHAZ_HTTP_PARSE' });
      return { result: 'failed', error: parser.error!.message };
    }
    expect(r).toBe(NEED_MORE);
    consumed += n;
  }
  expect(consumed).toBe(bytes.length);
  const closeEnds = parser.close();
  return closeEnds ? { result: 'more', closeEnds, status: parser.status, keepAlive: parser.keepAlive } : { result: 'more', closeEnds };
}

const ok = (status: number, keepAlive = true, extra: Partial<Outcome> = {}): Outcome => ({ result: 'complete', status, keepAlive, hintMs: -1, rest: 0, ...extra });

const cases: [name: string, response: string, expected: Outcome, head?: boolean][] = [
  ['content-length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', ok(200)],
  ['no reason phrase', 'HTTP/1.1 204\r\n\r\n', ok(204)],
  ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi', ok(200)],
  ['header names in any case, OWS around values', 'HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: \t3 \r\n\r\nabc', ok(200)],
  ['zero length', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ok(200)],
  ['the same content-length twice', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', ok(200)],
  ['chunked with extensions and trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n', ok(200)],
  ['chunked, upper-case hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\nF\r\n0123456789abcde\r\n0\r\n\r\n', ok(200)],
  ['chunked and content-length: chunked wins, connection not kept', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n', ok(200, false)],
  ['connection: close', 'HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx', ok(200, false)],
  ['connection list with close', 'HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 1\r\n\r\nx', ok(200, false)],
  ['keep-alive timeout hint', 'HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout = 7\r\nContent-Length: 1\r\n\r\nx', ok(200, true, { hintMs: 7_000 })],
  ['HTTP/1.0 with keep-alive and a length', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', ok(200)],
  ['HTTP/1.0 with a length but no keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', ok(200, false)],
  ['100 continue, then the final status', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', ok(201)],
  ['103 early hints twice, then 200', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ok(200)],
  ['the hint of an interim response is not the final one\'s', 'HTTP/1.1 100 Continue\r\nKeep-Alive: timeout=2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ok(200)],
  ['HEAD: a length but no body', 'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n', ok(200), true],
  ['HEAD: chunked but no body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ok(200), true],
  ['204 with a length has no body', 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', ok(204)],
  ['304 has no body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', ok(304)],
  ['101 ends the response and the connection', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', ok(101, false)],
  ['folded header line ignored', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\nContent-Length: 1\r\n\r\nx', ok(200)],
  ['bytes after the response are left', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA', ok(200, true, { rest: 5 })],
  ['empty lines before the status line', '\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ok(200)],
];

const closeDelimited: [name: string, response: string][] = [
  ['HTTP/1.0 without a length', 'HTTP/1.0 200 OK\r\n\r\nbody until close'],
  ['HTTP/1.1 without a length', 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nbody'],
  ['a coding that is not chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz'],
];

const incomplete: [name: string, response: string][] = [
  ['status line only', 'HTTP/1.1 200 OK\r\n'],
  ['headers without their end', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'],
  ['short body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel'],
  ['chunked without the last chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
  ['chunked without the final empty line', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'],
  ['interim response only', 'HTTP/1.1 100 Continue\r\n\r\n'],
];

const malformed: [name: string, response: string | Buffer, error: RegExp][] = [
  ['not HTTP at all (fails before a line ends)', 'SSH-2.0-OpenSSH_9.6', /malformed status line/],
  ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n', /malformed status line/],
  ['lower-case protocol', 'http/1.1 200 OK\r\n\r\n', /malformed status line/],
  ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', /malformed status line/],
  ['status not followed by a space', 'HTTP/1.1 200OK\r\n\r\n', /malformed status line/],
  ['status 099', 'HTTP/1.1 099 Odd\r\n\r\n', /malformed status line/],
  ['header without a colon', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', /malformed header line/],
  ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx', /malformed header line/],
  ['empty header name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', /malformed header line/],
  ['content-length not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n', /bad content-length/],
  ['content-length empty', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n', /bad content-length/],
  ['content-length as a list', 'HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx', /bad content-length/],
  ['content-length too large', 'HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n', /bad content-length/],
  ['conflicting content-lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx', /conflicting content-length/],
  ['chunk size not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/],
  ['chunk size empty', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n', /bad chunk size/],
  ['chunk size too large', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffff\r\n', /bad chunk size/],
  ['chunk size then junk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n', /bad chunk size/],
  ['chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', /chunk longer than its size/],
  ['header block over 64 KiB', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`, /header block longer than 65536 bytes/],
  ['header block over 64 KiB with no line end', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}`, /header block longer/],
  ['interim responses over 64 KiB together', 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(3_000), /header block longer/],
  ['chunk extension over 4 KiB', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(5_000)}\r\n`, /line too long/],
];

describe('ResponseParser', () => {
  it.each(cases)('%s', (_name, response, expected, head) => {
    expect(parse(response, { head: head ?? false })).toEqual(expected);
  });

  it.each(closeDelimited)('a body delimited by the close: %s', (_name, response) => {
    expect(parse(response)).toEqual({ result: 'more', closeEnds: true, status: 200, keepAlive: false });
  });

  it.each(incomplete)('a close before the end is not a response: %s', (_name, response) => {
    expect(parse(response)).toEqual({ result: 'more', closeEnds: false });
  });

  it.each(malformed)('fails with CANIHAZ_HTTP_PARSE: %s', (_name, response, error) => {
    expect(parse(response)).toMatchObject({ result: 'failed', error: expect.stringMatching(error) });
  });

  it('bytes after a complete response are an error if fed again', () => {
    const parser = new ResponseParser();
    parser.start(false);
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX');
    expect(parser.feed(bytes, 0, bytes.length)).toBe(COMPLETE);
    expect(parser.end).toBe(bytes.length - 1);
    expect(parser.feed(bytes, parser.end, bytes.length)).toBe(FAILED);
    expect(parser.error?.message).toMatch(/more bytes than the response/);
  });

  it('parses one response after another with start() between them (a kept connection)', () => {
    const parser = new ResponseParser();
    for (const [response, status] of [['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200], ['HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 404]] as const) {
      parser.start(false);
      const bytes = Buffer.from(response);
      expect(parser.feed(bytes, 0, bytes.length)).toBe(COMPLETE);
      expect(parser.status).toBe(status);
    }
  });

  it('any split of a response gives the same result as the whole (fast-check)', () => {
    const all = [
      ...cases.map(([, r, , head]) => [r, head ?? false] as const),
      ...closeDelimited.map(([, r]) => [r, false] as const),
      ...incomplete.map(([, r]) => [r, false] as const),
      ...malformed.filter(([, r]) => r.length < 2_000).map(([, r]) => [r as string, false] as const),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
        ([response, head], cuts) => {
          expect(parse(response, { head, cuts })).toEqual(parse(response, { head }));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('a response split into single bytes parses as the whole', () => {
    for (const [, response, expected, head] of cases) {
      expect(parse(response, { head: head ?? false, cuts: Array.from({ length: response.length }, (_, i) => i) })).toEqual(expected);
    }
  });
});
