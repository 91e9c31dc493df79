/** The requests of the http probe's own HTTP/1.1 client (http1-pool.ts): their bytes, built once per probe. */

/** A request as its bytes on the wire. */
export interface Http1Request {
  readonly bytes: Buffer;
  /** A HEAD request: no body follows its response's headers. */
  readonly head: boolean;
  /** The request asked for `Connection: close`: the connection ends with the response. */
  readonly close: boolean;
}

/**
 * The bytes undici wrote for the same request: the request line, `host` (the origin's, or the test's
 * Host header), `connection: keep-alive` (or `close` when the test asks for it), the test's headers
 * in order, and `content-length` for a body (0 for a POST, PUT, PATCH or QUERY without one).
 * Header values are Latin-1 (http-params.ts checks them).
 */
export function buildHttp1Request(url: URL, method: string, headers: readonly (readonly [string, string])[], body: Buffer | undefined): Http1Request {
  let host = url.host;
  let close = false;
  let lines = '';
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'host') host = value;
    else if (lower === 'connection') close ||= value.split(',').some((t) => t.trim().toLowerCase() === 'close');
    else lines += `${name}: ${value}\r\n`;
  }
  const length = body ? body.length : method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'QUERY' ? 0 : -1;
  const head =
    `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${host}\r\nconnection: ${close ? 'close' : 'keep-alive'}\r\n` +
    `${lines}${length >= 0 ? `content-length: ${length}\r\n` : ''}\r\n`;
  const bytes = Buffer.from(head, 'latin1');
  return Object.freeze({ bytes: body ? Buffer.concat([bytes, body]) : bytes, head: method === 'HEAD', close });
}
