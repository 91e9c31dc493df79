/**
 * The dispatcher a WebSocket session hands to undici's WebSocket, which reports every failed opening
 * the same way (an `error` event with an empty message, then close code 1006). It is a one-connection
 * undici Client per session whose handler it watches (the status of a refused upgrade, the connect or
 * TLS error) and whose connects it makes itself: host names through a HostResolver (never
 * getaddrinfo, which can hold a stopped process), the socket remembered so that every path ends by
 * destroying it, even a connect still pending or a server that ignores the close handshake.
 */
import type { Socket } from 'node:net';
import type { Client, Dispatcher, buildConnector } from 'undici';
import type { Clock } from '../clock.js';
import { createHostResolver, lookupVia, type HostResolver } from '../net/resolve.js';
import { secureContextWithCa } from './ca-file.js';
import { undici } from './load-undici.js';
import { classifyNetError } from './net-errors.js';
import { messageOf, WebSocketError } from './websocket-error.js';

/** How the dispatcher connects. */
export interface UpgradeDispatcherOptions {
  /** Times the resolver the dispatcher makes when given none. */
  clock: Clock;
  /** Longest a connect (TCP, and TLS for wss://) may take, ms. */
  timeoutMs: number;
  /** Largest message the WebSocket accepts; a larger one fails the connection. */
  maxMessageBytes: number;
  /** PEM certificates trusted beside Node's bundled roots, for wss:// to a private CA. */
  ca?: string;
  /** Resolves the host name; its owner cancels it. Default: one of the dispatcher's own, cancelled by destroy(). */
  resolver?: HostResolver;
}

/** One session's dispatcher and what it saw of the upgrade. */
export interface UpgradeDispatcher {
  /** The `dispatcher` option of undici's WebSocket. */
  readonly dispatcher: Dispatcher;
  /** Why an opening that did not open failed, from what the dispatcher saw. */
  openingError(): WebSocketError;
  /** Destroys the client and every socket it connected, cancels its own resolver; later connects fail. Idempotent. */
  destroy(): void;
}

type ConnectOptions = Parameters<buildConnector.connector>[0];
type ConnectCallback = Parameters<buildConnector.connector>[1];

/** Makes the dispatcher of one session to `target` (a ws: or wss: URL). */
export function createUpgradeDispatcher(target: URL, options: UpgradeDispatcherOptions): UpgradeDispatcher {
  return new WatchedClient(target, options);
}

class WatchedClient implements UpgradeDispatcher {
  readonly dispatcher: Dispatcher;
  readonly #client: Client;
  readonly #connector: buildConnector.connector;
  readonly #sockets = new Set<Socket>();
  readonly #ownResolver: HostResolver | undefined;
  #destroyed = false;
  /** What the client saw of the upgrade: the response status, the connect or request error. */
  #status: number | undefined;
  #error: unknown;

  constructor(target: URL, options: UpgradeDispatcherOptions) {
    const secure = target.protocol === 'wss:';
    const origin = `${secure ? 'https' : 'http'}://${target.host}`;
    const resolver = options.resolver ?? (this.#ownResolver = createHostResolver({ clock: options.clock }));
    try {
      this.#connector = undici().buildConnector({
        timeout: options.timeoutMs,
        lookup: lookupVia(resolver),
        ...(secure && options.ca ? { secureContext: secureContextWithCa(options.ca) } : {}),
      });
      this.#client = new (undici().Client)(origin, {
        connect: (opts: ConnectOptions, callback: ConnectCallback) => this.#connect(opts, callback),
      });
    } catch (err) {
      this.#ownResolver?.cancel();
      throw err;
    }
    const client = this.#client;
    const maxPayloadSize = options.maxMessageBytes;
    // The one thing fetch asks of a dispatcher, with the handler watched (see the file's comment).
    this.dispatcher = {
      dispatch: (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => client.dispatch(opts, this.#watch(handler)),
      webSocketOptions: { maxFragments: 131_072, maxPayloadSize },
    } as unknown as Dispatcher;
  }

  /** Connects (within the connector's timeout), remembering the socket until it closes. */
  #connect(opts: ConnectOptions, callback: ConnectCallback): void {
    if (this.#destroyed) {
      process.nextTick(() => callback(new WebSocketError('aborted', 'session ended'), null));
      return;
    }
    // undici's connector returns the socket it is connecting, though its type says void.
    const socket = (this.#connector as unknown as (o: ConnectOptions, cb: ConnectCallback) => Socket | undefined)(opts, callback);
    if (!socket) return;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** The fetch handler of the upgrade request, with its status and error noted on the way. */
  #watch(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapped methods keep undici's own `this`
    const seen = this;
    // A child object, so the handler's own `this.abort = …` / `this.abort(…)` still meet.
    const watched = Object.create(handler) as Dispatcher.DispatchHandler & Record<string, unknown>;
    const legacy = handler as Record<string, unknown>;
    watched.onHeaders = function (this: unknown, status: number, ...rest: unknown[]) {
      seen.#status ??= status;
      return (legacy.onHeaders as (...a: unknown[]) => boolean).call(this, status, ...rest);
    };
    watched.onError = function (this: unknown, err: unknown) {
      seen.#error ??= err;
      (legacy.onError as (e: unknown) => void).call(this, err);
    };
    return watched;
  }

  openingError(): WebSocketError {
    const status = this.#status;
    if (status !== undefined && status !== 101) {
      return new WebSocketError(`status_${status}`, `the server answered the WebSocket upgrade with HTTP ${status}`);
    }
    if (this.#error !== undefined) {
      return new WebSocketError(classifyNetError(this.#error), `WebSocket connection failed: ${messageOf(this.#error)}`, { cause: this.#error });
    }
    if (status === 101) return new WebSocketError('other', 'the server accepted the upgrade with an invalid handshake (Sec-WebSocket-Accept, Upgrade or extensions)');
    return new WebSocketError('other', 'WebSocket connection failed before any request was sent (a port the WebSocket client blocks?)');
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    void this.#client.destroy().catch(() => undefined);
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#ownResolver?.cancel();
  }
}
