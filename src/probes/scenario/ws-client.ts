/**
 * `ctx.ws`: WebSocket sessions (websocket-session.ts) opened by a module. Each session follows the
 * signal of the execution (or setup) that opened it, so whatever is still open when the execution
 * ends is closed with it; host names go through one resolver per test, cancelled when it closes.
 */
import type { WebSocketClient, WebSocketSession } from '../../../types/scenario.js';
import type { Clock } from '../../clock.js';
import { createHostResolver, type HostResolver } from '../../net/resolve.js';
import { openWebSocket } from '../websocket-session.js';
import { ScenarioRequestError } from './http-client.js';

/** One test's WebSockets. */
export class ScenarioWs {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #resolver: HostResolver | undefined;
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** The `ctx.ws` of an execution (or setup, teardown): sessions end when `signal` aborts. */
  client(signal: AbortSignal): WebSocketClient {
    return { connect: (url, options) => this.connect(url, options, signal) };
  }

  connect(url: string | URL, options: { headers?: Readonly<Record<string, string>> } | undefined, signal: AbortSignal): Promise<WebSocketSession> {
    if (this.#closed) return Promise.reject(new ScenarioRequestError('aborted', 'ctx.ws.connect: the test has ended'));
    const headers: [string, string][] = [];
    for (const [name, value] of Object.entries(options?.headers ?? {})) {
      if (typeof value !== 'string') return Promise.reject(new ScenarioRequestError('other', `ctx.ws.connect: header ${JSON.stringify(name.slice(0, 40))} must be a string`));
      headers.push([name, value]);
    }
    this.#resolver ??= createHostResolver({ clock: this.#clock });
    return openWebSocket(String(url), { headers, signal, clock: this.#clock, timeoutMs: this.#timeoutMs, resolver: this.#resolver });
  }

  /** Cancels the test's resolver; sessions have ended with their signals. */
  close(): void {
    this.#closed = true;
    this.#resolver?.cancel();
    this.#resolver = undefined;
  }
}
