/**
 * undici, loaded when the first pool or WebSocket session needs it rather than with the config
 * parser: a copy that only parses the config (`check`, or a `run` that finds every lock slot busy)
 * never pays for it. Only the parts the probes use are loaded (not its fetch, cache, mock, cookie and
 * EventSource modules, which its index loads): the pool and connector for http, the client and
 * WebSocket for websocket, each on first use.
 */
import { createRequire } from 'node:module';
import type { Client, Pool, WebSocket, buildConnector } from 'undici';

/** True in the bundle (scripts/bundle.mjs), where `require` is the bundle's and undici is inside it. */
declare const __CANIHAZ_BUNDLED__: boolean | undefined;

/** What the probes use of undici. */
export interface Undici {
  Pool: typeof Pool;
  Client: typeof Client;
  WebSocket: typeof WebSocket;
  buildConnector: typeof buildConnector;
}

// A literal require() of each file, so that the bundler takes undici's files in; without the bundle
// (tsc's dist/), the same files through a require of this module's own. undici has no "exports" map,
// so its files are its public paths too; test/unit/load-undici.test.ts checks them against its index.
/* eslint-disable @typescript-eslint/no-require-imports */
type Require = (id: string) => unknown;
const files = (req: Require) => ({
  Pool: () => req('undici/lib/dispatcher/pool.js'),
  Client: () => req('undici/lib/dispatcher/client.js'),
  WebSocket: () => (req('undici/lib/web/websocket/websocket.js') as { WebSocket: unknown }).WebSocket,
  buildConnector: () => req('undici/lib/core/connect.js'),
  dispatcher: () => req('undici/lib/dispatcher/dispatcher.js') as { prototype: object },
  api: () => req('undici/lib/api/index.js') as Record<string, (...args: unknown[]) => unknown>,
});
const load =
  typeof __CANIHAZ_BUNDLED__ === 'boolean'
    ? {
        Pool: () => require('undici/lib/dispatcher/pool.js') as unknown,
        Client: () => require('undici/lib/dispatcher/client.js') as unknown,
        WebSocket: () => (require('undici/lib/web/websocket/websocket.js') as { WebSocket: unknown }).WebSocket,
        buildConnector: () => require('undici/lib/core/connect.js') as unknown,
        dispatcher: () => require('undici/lib/dispatcher/dispatcher.js') as { prototype: object },
        api: () => require('undici/lib/api/index.js') as Record<string, (...args: unknown[]) => unknown>,
      }
    : files(createRequire(import.meta.url));
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * undici's index gives every dispatcher its request API (`pool.request()`, which scenario modules'
 * `ctx.http` uses): here each method loads that API on its first call, then is replaced by it.
 */
let apiAdded = false;
function addRequestApi(): void {
  if (apiAdded) return;
  apiAdded = true;
  const proto = load.dispatcher().prototype as Record<string, unknown>;
  for (const name of ['request', 'stream', 'pipeline', 'upgrade', 'connect']) {
    if (name in proto) continue;
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value(this: Record<string, (...args: unknown[]) => unknown>, ...args: unknown[]) {
        Object.assign(proto, load.api());
        return this[name]!(...args);
      },
    });
  }
}

const loaded: Partial<Undici> = {};
const parts = {} as Undici;
for (const key of ['Pool', 'Client', 'WebSocket', 'buildConnector'] as const) {
  Object.defineProperty(parts, key, {
    enumerable: true,
    get: () => {
      if (key === 'Pool' || key === 'Client') addRequestApi();
      return (loaded[key] ??= load[key]() as never);
    },
  });
}

/** undici's parts the probes use, each required on first use. */
export function undici(): Undici {
  return parts;
}
