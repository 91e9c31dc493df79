/**
 * Connection pools shared by every http test to the same origin (one pool per origin and connect
 * options, reference-counted: for the http probe's `http:` URLs our own HTTP/1.1 client, http1-pool.ts;
 * otherwise an undici Pool), each connect drawing on the one connection budget
 * (connection-budget.ts) so a host with `ulimit -n 1024` and a thousand tests stays under it.
 *
 * Target host names are resolved by a HostResolver (src/net/resolve.ts), never by getaddrinfo, whose
 * pending lookups hold a stopped process's exit. Pools not given a resolver share one that lives as
 * long as they do: it is created with the first such pool and cancelled when the last is destroyed —
 * when a run closes its probes — so each name is resolved once per run and no lookup outlives a stop.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Pool, buildConnector } from 'undici';
import { fdLimitCode, limitHit } from '../limits.js';
import { createHostResolver, lookupVia, type HostResolver } from '../net/resolve.js';
import { secureContextWithCa } from './ca-file.js';
import { sharedBudget } from './connection-budget.js';
import { Http1Pool, PoolClosedError } from './http1-pool.js';
import { connectHttp1 } from './http1-socket.js';
import { undici } from './load-undici.js';

/** What makes two tests' connections interchangeable. */
export interface PoolKey {
  /** `scheme://host:port` of the URL. */
  origin: string;
  /** How long a connect (TCP, and TLS for https) may take, ms. */
  connectTimeoutMs: number;
  /** Resolves the origin's host name; its owner cancels it. Default: the pools' shared resolver (see above). */
  resolver?: HostResolver;
  /** PEM certificates trusted beside Node's bundled roots (https). Default: Node's roots only. */
  ca?: string;
}

/** One test's hold on a shared pool (an undici Pool, or for `leaseHttp1Pool` our own). */
export interface PoolLease<P extends Pool | Http1Pool = Pool> {
  readonly pool: P;
  /** Opens one connection ahead for the pool (once per pool), so its first request need not. Never rejects. */
  prepare(): Promise<void>;
  /**
   * Gives the hold back. The last one destroys the pool at once: idle connections, connects still
   * pending (a target that never accepts) and requests no execution waits for any more. Idempotent.
   */
  release(): Promise<void>;
}

type ConnectOptions = Parameters<buildConnector.connector>[0];
type ConnectCallback = Parameters<buildConnector.connector>[1];

/** The resolver of the pools given none, and how many live pools use it. */
let sharedResolver: { resolver: HostResolver; pools: number } | undefined;

/** Takes a hold on the shared resolver for a new pool. */
function holdSharedResolver(): HostResolver {
  sharedResolver ??= { resolver: createHostResolver(), pools: 0 };
  sharedResolver.pools++;
  return sharedResolver.resolver;
}

/** Gives a pool's hold back; the last one cancels every lookup still pending. */
function releaseSharedResolver(resolver: HostResolver): void {
  if (sharedResolver?.resolver !== resolver) return;
  if (--sharedResolver.pools > 0) return;
  sharedResolver = undefined;
  resolver.cancel();
}

/** One origin's pool, the sockets it is still connecting, and the tests holding it. */
class SharedPool {
  readonly key: string;
  readonly pool: Pool | Http1Pool;
  refs = 0;
  /** undici's connector; none for an Http1Pool, whose sockets connectHttp1 (http1-socket.ts) opens. */
  readonly #connector: buildConnector.connector | undefined;
  readonly #connectTimeoutMs: number;
  readonly #lookup: ReturnType<typeof lookupVia>;
  readonly #connecting = new Set<Socket>();
  /** Connects waiting for a budget slot, each with the way to fail it. */
  readonly #waiting = new Map<() => void, ConnectCallback>();
  /** A connection opened by `prepare()`, handed to the pool for its first request. */
  #spare: Socket | undefined;
  #prepared: Promise<void> | undefined;
  #destroyed: Promise<void> | undefined;
  readonly #origin: URL;
  /** The shared resolver this pool holds (undefined when its lease brought its own). */
  readonly #heldResolver: HostResolver | undefined;

  constructor(key: string, options: PoolKey, http1: boolean) {
    this.key = key;
    this.#origin = new URL(options.origin);
    this.#heldResolver = options.resolver ? undefined : holdSharedResolver();
    const resolver = options.resolver ?? this.#heldResolver!;
    // net.connect and tls.connect ask `lookup` for the address of a host name (IP literals skip it),
    // and keep using the name for SNI and the certificate check; the Host header comes from the origin.
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#lookup = lookupVia(resolver);
    const max = Number.isFinite(sharedBudget().max) ? sharedBudget().max : Infinity;
    const connect = (opts: ConnectOptions, callback: ConnectCallback) => {
      const spare = this.#spare;
      this.#spare = undefined;
      // undici expects the callback after connect() returns, as a real connect would call it.
      if (spare && !spare.destroyed && spare.readyState === 'open') process.nextTick(() => callback(null, spare));
      else {
        spare?.destroy();
        this.#open(opts, callback);
      }
    };
    if (http1) {
      this.#connector = undefined;
      this.pool = new Http1Pool({ maxConnections: max, connect: (callback) => connect(this.#connectOptions(), callback) });
      return;
    }
    this.#connector = undici().buildConnector({
      timeout: options.connectTimeoutMs,
      lookup: this.#lookup,
      // One TLS context per CA text, shared by every connection (tls.connect would build one per connect from `ca`).
      ...(options.ca === undefined ? {} : { secureContext: secureContextWithCa(options.ca) }),
    });
    // Per-request headersTimeout/bodyTimeout (each test's own timeout) override undici's 300 s defaults.
    this.pool = new (undici().Pool)(options.origin, {
      // Never more connections than the whole budget: beyond it requests queue in the pool for the
      // next free connection instead of each waiting on a connect of its own.
      connections: Number.isFinite(max) ? max : null,
      pipelining: 1,
      connect,
    });
  }

  /** The origin's address as a connect wants it. */
  #connectOptions(): ConnectOptions {
    const url = this.#origin;
    const https = url.protocol === 'https:';
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return { hostname, host: url.host, protocol: url.protocol, port: url.port || (https ? '443' : '80') };
  }

  /** Connects within the budget, counting the socket until it closes. */
  #open(opts: ConnectOptions, callback: ConnectCallback): void {
    if (this.#destroyed) {
      process.nextTick(() => callback(new PoolClosedError(), null));
      return;
    }
    let granted = false;
    let queued: (() => void) | undefined;
    const withdraw = sharedBudget().take(() => {
      granted = true;
      if (queued) this.#waiting.delete(queued);
      this.#connect(opts, callback);
    });
    if (!granted) {
      queued = withdraw;
      this.#waiting.set(withdraw, callback);
    }
  }

  #connect(opts: ConnectOptions, callback: ConnectCallback): void {
    const b = sharedBudget();
    let counted = true;
    const give = () => {
      if (counted) b.give();
      counted = false;
    };
    if (this.#destroyed) {
      give();
      process.nextTick(() => callback(new PoolClosedError(), null));
      return;
    }
    let socket: Socket;
    try {
      const connected: ConnectCallback = (...args) => {
        this.#connecting.delete(socket);
        const code = fdLimitCode(args[0]);
        if (code) limitHit(code, { where: 'http connect' });
        callback(...args);
      };
      // undici's connector returns the socket it is connecting, though its type says void.
      socket = this.#connector
        ? (this.#connector as unknown as (o: ConnectOptions, cb: ConnectCallback) => Socket)(opts, connected)
        : connectHttp1({ host: opts.hostname, port: Number(opts.port), timeoutMs: this.#connectTimeoutMs, lookup: this.#lookup }, connected as Parameters<typeof connectHttp1>[1]);
    } catch (err) {
      give();
      const code = fdLimitCode(err);
      if (code) limitHit(code, { where: 'http connect' });
      process.nextTick(() => callback(err as Error, null));
      return;
    }
    this.#connecting.add(socket);
    socket.once('close', give);
  }

  prepare(): Promise<void> {
    this.#prepared ??= new Promise((resolve) => {
      // A spare is a nicety: never wait for a budget slot for one.
      const b = sharedBudget();
      if (this.#destroyed || b.open >= b.max) return resolve();
      this.#open(this.#connectOptions(), (err, socket) => {
        if (!err && socket) {
          // Errors on an idle spare (the server closed it) just mean the pool opens a fresh one.
          socket.on('error', () => {});
          if (this.#destroyed) socket.destroy();
          else this.#spare = socket;
        }
        resolve();
      });
    });
    return this.#prepared;
  }

  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      this.#spare?.destroy();
      this.#spare = undefined;
      for (const [withdraw, callback] of this.#waiting) {
        withdraw();
        callback(new PoolClosedError(), null);
      }
      this.#waiting.clear();
      const destroyed = this.pool.destroy().catch(() => undefined);
      // A connect to a target that never answers would otherwise hold its socket (and the event
      // loop) until the connect timeout; nobody needs it any more.
      for (const socket of this.#connecting) socket.destroy(new PoolClosedError());
      this.#connecting.clear();
      if (this.#heldResolver) releaseSharedResolver(this.#heldResolver);
      await destroyed;
    })();
    return this.#destroyed;
  }
}

const pools = new Map<string, SharedPool>();
/** A number per resolver given in a key, so tests with their own resolvers never share a pool. */
const resolverIds = new WeakMap<HostResolver, number>();
let resolversSeen = 0;

/** Takes a hold on the undici pool for `key` (scenario modules' `ctx.http`, https), creating it on first use. */
export function leasePool(key: PoolKey): PoolLease {
  return lease(key, false) as PoolLease;
}

/** Takes a hold on the Http1Pool (http1-pool.ts) for `key`, an `http:` origin, creating it on first use. */
export function leaseHttp1Pool(key: PoolKey): PoolLease<Http1Pool> {
  if (!key.origin.startsWith('http:')) throw new TypeError(`Expected an http: origin, got ${key.origin}`);
  return lease(key, true) as PoolLease<Http1Pool>;
}

function lease(key: PoolKey, http1: boolean): PoolLease<Pool | Http1Pool> {
  let id = `${key.origin} connect=${key.connectTimeoutMs}${http1 ? ' http1' : ''}`;
  if (key.ca !== undefined) id += ` ca=${createHash('sha256').update(key.ca).digest('hex').slice(0, 32)}`;
  if (key.resolver) {
    if (!resolverIds.has(key.resolver)) resolverIds.set(key.resolver, ++resolversSeen);
    id += ` resolver=${resolverIds.get(key.resolver)}`;
  }
  let shared = pools.get(id);
  if (!shared) {
    shared = new SharedPool(id, key, http1);
    pools.set(id, shared);
  }
  shared.refs++;
  const held = shared;
  let released: Promise<void> | undefined;
  return {
    pool: held.pool,
    prepare: () => (released ? Promise.resolve() : held.prepare()),
    release() {
      released ??= (async () => {
        held.refs--;
        if (held.refs > 0) return;
        if (pools.get(held.key) === held) pools.delete(held.key);
        await held.destroy();
      })();
      return released;
    },
  };
}
