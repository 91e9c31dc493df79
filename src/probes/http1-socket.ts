/**
 * The sockets of the http probe's own HTTP/1.1 client (http1-pool.ts): connected with no Nagle and a
 * connect timeout, reading into one buffer shared by every connection (Node's `onread`), so no
 * Buffer is allocated per read and no Readable machinery runs.
 */
import { connect as netConnect, type LookupFunction, type Socket } from 'node:net';

/** The connection end a socket's reads go to (set by its pool once the socket is handed to it). */
export const kReader = Symbol('http1 reader');

/** What a socket's reads are handed to. */
export interface SocketReader {
  read(buf: Uint8Array, n: number): void;
}

/** A socket of ours, with its reader once it carries requests. */
export type Http1Socket = Socket & { [kReader]?: SocketReader };

/** The connection ended before the response did (undici's "other side closed"): `reset`. */
export class SocketClosedError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('other side closed');
  }
}

/** A connect that took longer than the test's timeout: `timeout`. */
class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`connect timed out after ${ms} ms`);
  }
}

/**
 * Every connection reads into this one buffer: Node calls back with each read before it makes the
 * next one, and the parser is done with the bytes when the callback returns.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onRead(this: Http1Socket, nread: number, buf: Uint8Array): boolean {
  const reader = this[kReader];
  // Bytes on a connection not yet given a request (a spare): nothing we asked for.
  if (reader) reader.read(buf, nread);
  else this.destroy();
  return true;
}

/** The options of `connectHttp1`. */
export interface Http1ConnectOptions {
  host: string;
  port: number;
  timeoutMs: number;
  lookup: LookupFunction;
}

/** Connects a socket for an Http1Pool; calls back once: connected, or the connect's error (`timeout` after `timeoutMs`). */
export function connectHttp1(options: Http1ConnectOptions, callback: (err: Error | null, socket: Socket | null) => void): Socket {
  const socket = netConnect({ host: options.host, port: options.port, lookup: options.lookup, onread: { buffer: READ_BUFFER, callback: onRead }, noDelay: true });
  // The socket's own idle timer, started before the lookup and the connect: Node's timer list, no timer of ours.
  socket.setTimeout(options.timeoutMs);
  const finish = (err: Error | null) => {
    socket.setTimeout(0);
    socket.off('connect', onConnect).off('timeout', onTimeout).off('error', finish).off('close', onClose);
    if (!err) return callback(null, socket);
    socket.destroy();
    callback(err, null);
  };
  const onConnect = () => finish(null);
  const onTimeout = () => finish(new ConnectTimeoutError(options.timeoutMs));
  const onClose = () => finish(new SocketClosedError());
  socket.once('connect', onConnect).once('timeout', onTimeout).once('error', finish).once('close', onClose);
  return socket;
}
