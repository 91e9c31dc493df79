/**
 * One WebSocket client connection (ws:// or wss://) on undici's own WebSocket, for the `websocket`
 * probe and a scenario's `ctx.ws`: open with headers, send text, receive the next message that
 * contains a substring, close. Every failure is a WebSocketError whose `reason` is one of the shared
 * reasons, so a caller counts it as it is. Why an opening failed is told by the session's own
 * dispatcher (websocket-dispatcher.ts), which also owns its sockets.
 */
import type { WebSocket as UndiciWebSocket } from 'undici';
import type { Cancel, Clock } from '../clock.js';
import type { HostResolver } from '../net/resolve.js';
import { undici } from './load-undici.js';
import { createUpgradeDispatcher, type UpgradeDispatcher } from './websocket-dispatcher.js';
import { messageOf, WebSocketError } from './websocket-error.js';

export { WebSocketError } from './websocket-error.js';

/** An open WebSocket connection. */
export interface WebSocketSession {
  /** Sends one text message. Throws a WebSocketError (reason 'closed') if the socket is not open. */
  send(text: string): void;
  /**
   * The next message received (queued from open, at most MAX_QUEUED_MESSAGES / MAX_QUEUED_BYTES,
   * oldest dropped beyond that) that contains `contains` (any message when omitted); the messages
   * before it are consumed. Binary messages are read as UTF-8 text. `timeoutMs` defaults to the
   * opening's timeout. Rejects with a WebSocketError whose `reason` is `closed` (closed before such a
   * message), `timeout` (nothing came), `mismatch` (messages came, none matched, by the timeout or
   * the close), `aborted` (the signal), or `other` (a second receive while one waits).
   */
  receive(options?: { contains?: string; timeoutMs?: number }): Promise<string>;
  /** Closes (code 1000) and resolves once closed or after CLOSE_BOUND_MS; never rejects. */
  close(): Promise<void>;
}

/** How to open a connection. */
export interface OpenWebSocketOptions {
  /** Extra request headers of the upgrade, in order (checked by the caller). */
  headers?: readonly (readonly [string, string])[];
  /** Aborting it fails the opening (`aborted`) or ends an open session (pending receive → `aborted`, socket closed). */
  signal: AbortSignal;
  /** Times the opening's bound, receives and the close's bound. */
  clock: Clock;
  /** Longest the opening may take (connect, TLS, upgrade), ms; also the default receive timeout. */
  timeoutMs: number;
  /** PEM certificates trusted beside Node's bundled roots, for wss:// to a private CA. */
  ca?: string;
  /** Resolves the host name; its owner cancels it. Default: one of the session's own, cancelled when it ends. */
  resolver?: HostResolver;
}

/** Most messages a session keeps unread; older ones are dropped beyond it. */
export const MAX_QUEUED_MESSAGES = 1000;
/** Most bytes (UTF-8) of unread messages a session keeps; older ones are dropped beyond it. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/** Largest message accepted; a larger one fails the connection (undici's default is 128 MiB). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Longest close() waits for the server's close frame before it destroys the socket, ms. */
export const CLOSE_BOUND_MS = 1_000;

/**
 * Loads undici's WebSocket client ahead of the first session (a warm-up: ~60 ms the first tick would
 * otherwise pay). Opens nothing.
 */
export function preloadWebSocketClient(): void {
  void undici().WebSocket;
}

type Waiter = { contains: string | undefined; resolve: (text: string) => void; reject: (err: WebSocketError) => void; sawOther: boolean; cancel: Cancel };

const decoder = new TextDecoder();

/**
 * Opens a WebSocket connection to `url` (ws:// or wss://). Resolves once the upgrade succeeded;
 * rejects with a WebSocketError: `refused`, `timeout`, `dns`, `tls`, `reset`, `status_<n>` (the
 * server answered the upgrade with n), `aborted` or `other`. Nothing is left open on a rejection.
 */
export function openWebSocket(url: string, options: OpenWebSocketOptions): Promise<WebSocketSession> {
  return new Session(url, options).opened;
}

class Session implements WebSocketSession {
  readonly opened: Promise<WebSocketSession>;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal;
  readonly #queue: string[] = [];
  #queuedBytes = 0;
  #state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Why the session ended, once it has: `aborted`, `timeout` (opening) or `closed`. */
  #ended: string | undefined;
  #closeDetail = '';
  #ws: UndiciWebSocket | undefined;
  #upgrade: UpgradeDispatcher | undefined;
  #waiter: Waiter | undefined;
  #cancelOpenTimer: Cancel | undefined;
  #settleOpen: ((err?: WebSocketError) => void) | undefined;
  #onClosed: (() => void)[] = [];
  #torndown = false;
  readonly #onAbort = () => this.#abort();

  constructor(url: string, options: OpenWebSocketOptions) {
    this.#clock = options.clock;
    this.#timeoutMs = options.timeoutMs;
    this.#signal = options.signal;
    this.opened = new Promise<WebSocketSession>((resolve, reject) => {
      this.#settleOpen = (err) => {
        this.#settleOpen = undefined;
        this.#cancelOpenTimer?.();
        if (err) reject(err);
        else resolve(this);
      };
    });
    if (options.signal.aborted) {
      this.#fail(new WebSocketError('aborted', 'aborted before the WebSocket connection was opened'));
      return;
    }
    try {
      this.#start(url, options);
    } catch (err) {
      this.#fail(new WebSocketError('other', `cannot open the WebSocket connection: ${messageOf(err)}`, { cause: err }));
      return;
    }
    options.signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#cancelOpenTimer = this.#clock.after(options.timeoutMs, () => {
      this.#fail(new WebSocketError('timeout', `no WebSocket upgrade within ${options.timeoutMs} ms`));
    });
  }

  #start(url: string, options: OpenWebSocketOptions): void {
    const target = new URL(url);
    if (target.protocol !== 'ws:' && target.protocol !== 'wss:') throw new TypeError(`expected a ws: or wss: URL, got ${target.protocol}`);
    const upgrade = createUpgradeDispatcher(target, {
      clock: options.clock,
      timeoutMs: options.timeoutMs,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      ca: options.ca,
      resolver: options.resolver,
    });
    this.#upgrade = upgrade;
    const dispatcher = upgrade.dispatcher;
    const ws = new (undici().WebSocket)(url, { dispatcher, headers: (options.headers ?? []).map(([n, v]) => [n, v]) });
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => this.#opened());
    ws.addEventListener('message', (event) => this.#received(event.data));
    ws.addEventListener('close', (event) => this.#closed(event.code, event.reason));
  }

  #opened(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    this.#settleOpen?.();
  }

  #received(data: unknown): void {
    if (this.#state !== 'open') return;
    const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? decoder.decode(data) : String(data);
    const waiter = this.#waiter;
    if (waiter) {
      if (waiter.contains === undefined || text.includes(waiter.contains)) {
        this.#waiter = undefined;
        waiter.cancel();
        waiter.resolve(text);
      } else {
        waiter.sawOther = true;
      }
      return;
    }
    this.#queue.push(text);
    this.#queuedBytes += Buffer.byteLength(text);
    while (this.#queue.length > MAX_QUEUED_MESSAGES || (this.#queuedBytes > MAX_QUEUED_BYTES && this.#queue.length > 0)) {
      this.#queuedBytes -= Buffer.byteLength(this.#queue.shift()!);
    }
  }

  #closed(code: number, reason: string): void {
    const wasOpening = this.#state === 'connecting';
    this.#state = 'closed';
    this.#closeDetail = `closed by ${code === 1006 ? 'the connection dropping' : `code ${code}`}${reason ? ` (${reason.slice(0, 80)})` : ''}`;
    if (wasOpening) this.#fail(this.#upgrade!.openingError());
    else {
      this.#ended ??= 'closed';
      this.#endWaiter();
      this.#teardown();
    }
    for (const f of this.#onClosed.splice(0)) f();
  }

  /** Ends an opening with `err`: everything is released. */
  #fail(err: WebSocketError): void {
    if (this.#state === 'open') return;
    this.#ended ??= err.reason;
    this.#state = 'closed';
    this.#teardown();
    this.#settleOpen?.(err);
  }

  #abort(): void {
    if (this.#state === 'connecting') {
      this.#fail(new WebSocketError('aborted', 'aborted while opening the WebSocket connection'));
      return;
    }
    this.#ended ??= 'aborted';
    this.#endWaiter();
    // A stop does not wait for the close handshake: the close frame is written, the socket destroyed,
    // and a close() still waiting for the server's frame resolves now rather than at its bound.
    this.#teardown();
    for (const f of this.#onClosed.splice(0)) f();
  }

  /** Rejects the pending receive, the session having ended. */
  #endWaiter(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    waiter.cancel();
    waiter.reject(this.#endedError(waiter.sawOther));
  }

  #endedError(sawOther: boolean): WebSocketError {
    if (this.#ended === 'aborted') return new WebSocketError('aborted', 'aborted');
    if (sawOther) return new WebSocketError('mismatch', `no matching message before the connection closed (${this.#closeDetail})`);
    return new WebSocketError('closed', `the connection closed before a message came (${this.#closeDetail || 'by this side'})`);
  }

  /** Releases everything: the WebSocket (close frame if open), then the dispatcher (client, sockets, own resolver). Idempotent. */
  #teardown(): void {
    if (this.#torndown) return;
    this.#torndown = true;
    this.#cancelOpenTimer?.();
    this.#signal.removeEventListener('abort', this.#onAbort);
    try {
      if (this.#ws && this.#ws.readyState !== this.#ws.CLOSED) this.#ws.close(1000);
    } catch {
      // closing what is already failing
    }
    this.#upgrade?.destroy();
  }

  send(text: string): void {
    if (this.#state !== 'open' || this.#torndown) {
      throw new WebSocketError(this.#ended === 'aborted' ? 'aborted' : 'closed', 'cannot send: the WebSocket connection is not open');
    }
    this.#ws!.send(text);
  }

  receive(options: { contains?: string; timeoutMs?: number } = {}): Promise<string> {
    const { contains } = options;
    let sawOther = false;
    while (this.#queue.length > 0) {
      const text = this.#queue.shift()!;
      this.#queuedBytes -= Buffer.byteLength(text);
      if (contains === undefined || text.includes(contains)) return Promise.resolve(text);
      sawOther = true;
    }
    if (this.#state !== 'open' || this.#torndown) return Promise.reject(this.#endedError(sawOther));
    if (this.#waiter) return Promise.reject(new WebSocketError('other', 'receive() called while another receive() is waiting'));
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = { contains, resolve, reject, sawOther, cancel: () => {} };
      this.#waiter = waiter;
      waiter.cancel = this.#clock.after(timeoutMs, () => {
        if (this.#waiter !== waiter) return;
        this.#waiter = undefined;
        reject(
          waiter.sawOther
            ? new WebSocketError('mismatch', `no message containing the expected text within ${timeoutMs} ms`)
            : new WebSocketError('timeout', `no message within ${timeoutMs} ms`),
        );
      });
    });
  }

  close(): Promise<void> {
    if (this.#torndown || this.#state !== 'open') {
      this.#teardown();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const cancel = this.#clock.after(CLOSE_BOUND_MS, () => done());
      const done = () => {
        cancel();
        this.#state = 'closed';
        this.#ended ??= 'closed';
        this.#endWaiter();
        this.#teardown();
        resolve();
      };
      this.#onClosed.push(done);
      try {
        this.#ws!.close(1000);
      } catch {
        done();
      }
    });
  }
}
