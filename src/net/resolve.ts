/**
 * Host-name resolution that can be abandoned: for metric servers (the sinks) and for targets (the
 * http probe's connections), once per run and cancelled at stop. Imports only the Clock of ours.
 *
 * `dns.lookup` (getaddrinfo) runs in libuv's threadpool and cannot be cancelled: process exit joins
 * the threadpool, so a lookup stuck on a slow resolver holds a stopped copy alive for seconds
 * (libuv/libuv#364). So nothing here calls it: each host name is resolved once, from an IP literal,
 * from /etc/hosts (read here), or through c-ares (`dns.promises.Resolver`, which runs on the event
 * loop and is cancelled by `cancel()`), applying resolv.conf's `search` list and `ndots` as the
 * system resolver would (c-ares' resolve4 does not). Other NSS sources (LDAP, mDNS, systemd-resolved's
 * own names) are not consulted.
 */
import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import net, { type LookupFunction } from 'node:net';
import { systemClock, type Clock } from '../clock.js';

/** A host name's address, or why there is none; never thrown. */
export type ResolvedHost = { ok: true; address: string; family: 4 | 6 } | { ok: false; code: string; message: string };

/** Resolves host names for one run (its sinks, or its http connections). */
export interface HostResolver {
  /** `host`'s address; a success is remembered for the run, a failure is not (the caller retries). */
  resolve(host: string): Promise<ResolvedHost>;
  /** Abandons every pending lookup (each resolves as failed, `ECANCELLED`) and refuses new ones. */
  cancel(): void;
}

/** How a resolver looks names up; every field has a default for real use. */
export interface HostResolverOptions {
  /** Longest a resolution may take before it fails as `ETIMEOUT`, ms. Default 5 000. */
  timeoutMs?: number;
  /** Default `/etc/hosts`. */
  hostsFile?: string;
  /** Default `/etc/resolv.conf` (for `search`, `domain` and `ndots`; c-ares reads the servers itself). */
  resolvConf?: string;
  /** DNS servers (`ip` or `ip:port`) instead of the system's, for tests. */
  servers?: string[];
  /** Times the overall bound. Default the system clock. */
  clock?: Clock;
}

/** Default bound on one host's resolution, ms. */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/** Creates a resolver; `cancel()` it when the run stops. */
export function createHostResolver(options: HostResolverOptions = {}): HostResolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  const hostsFile = options.hostsFile ?? '/etc/hosts';
  const resolvConf = options.resolvConf ?? '/etc/resolv.conf';
  const known = new Map<string, ResolvedHost>();
  const pending = new Map<string, Promise<ResolvedHost>>();
  const cancellers = new Set<() => void>();
  let cancelled = false;

  const attempt = async (host: string): Promise<ResolvedHost> => {
    const family = net.isIP(host);
    if (family === 4 || family === 6) return { ok: true, address: host, family };
    const fromHosts = lookupHostsFile(await readText(hostsFile), host);
    if (fromHosts) return fromHosts;
    if (cancelled) return CANCELLED;
    const conf = parseResolvConf(await readText(resolvConf));
    // Each query may use the whole budget; the overall timer below bounds the sum.
    const resolver = new dns.Resolver({ timeout: Math.max(1, Math.min(timeoutMs, 2_000)), tries: 2 });
    if (options.servers) resolver.setServers(options.servers);
    let outcome: ResolvedHost | undefined;
    const stop = (result: ResolvedHost) => {
      outcome ??= result;
      resolver.cancel();
    };
    const cancel = () => stop(CANCELLED);
    cancellers.add(cancel);
    const cancelTimer = clock.after(timeoutMs, () => stop({ ok: false, code: 'ETIMEOUT', message: `no answer within ${timeoutMs} ms` }), { unref: true });
    try {
      let last: ResolvedHost = { ok: false, code: 'ENOTFOUND', message: 'not found' };
      for (const name of searchCandidates(host, conf)) {
        for (const fam of [4, 6] as const) {
          if (outcome) return outcome;
          try {
            const addresses = fam === 4 ? await resolver.resolve4(name) : await resolver.resolve6(name);
            if (outcome) return outcome;
            if (addresses[0]) return { ok: true, address: addresses[0], family: fam };
          } catch (err) {
            if (outcome) return outcome;
            const e = err as { code?: unknown; message?: unknown };
            last = { ok: false, code: typeof e.code === 'string' ? e.code : 'EOTHER', message: String(e.message ?? err) };
            // No such name: the AAAA query would say the same; try the next search candidate.
            if (last.code === 'ENOTFOUND') break;
          }
        }
      }
      return outcome ?? last;
    } finally {
      cancelTimer();
      cancellers.delete(cancel);
    }
  };

  return {
    resolve(host) {
      const done = known.get(host);
      if (done) return Promise.resolve(done);
      if (cancelled) return Promise.resolve(CANCELLED);
      let p = pending.get(host);
      if (!p) {
        p = attempt(host)
          .catch((err: unknown): ResolvedHost => ({ ok: false, code: 'EOTHER', message: String(err) }))
          .then((result) => {
            pending.delete(host);
            if (result.ok && !cancelled) known.set(host, result);
            return cancelled ? CANCELLED : result;
          });
        pending.set(host, p);
      }
      return p;
    },
    cancel() {
      cancelled = true;
      for (const c of [...cancellers]) c();
    },
  };
}

/** A failed resolution, raised to net.connect with getaddrinfo's codes so callers classify it as they always have. */
export class HostLookupError extends Error {
  /** `ENOTFOUND` when the name has no address, `EAI_AGAIN` when no answer came (timeout, server failure, cancelled). */
  readonly code: 'ENOTFOUND' | 'EAI_AGAIN';
  /** The resolver's own code (`ENOTFOUND`, `ETIMEOUT`, `ECANCELLED`, a c-ares code). */
  readonly resolverCode: string;
  readonly hostname: string;

  constructor(hostname: string, failure: { code: string; message: string }) {
    super(`cannot resolve ${hostname}: ${failure.message}`);
    this.name = 'HostLookupError';
    this.hostname = hostname;
    this.resolverCode = failure.code;
    this.code = failure.code === 'ENOTFOUND' || failure.code === 'ENODATA' ? 'ENOTFOUND' : 'EAI_AGAIN';
  }
}

/**
 * A `lookup` for net.connect and tls.connect that asks `resolver` instead of getaddrinfo. The socket
 * still connects to the host *name*, so TLS's SNI and certificate check use the name. It answers with
 * the one address the resolver chose, as a list when net asks for all (autoSelectFamily).
 */
export function lookupVia(resolver: HostResolver): LookupFunction {
  return (hostname, options, callback) => {
    void resolver.resolve(hostname).then((result) => {
      if (!result.ok) callback(new HostLookupError(hostname, result), '');
      else if (options.all) callback(null, [{ address: result.address, family: result.family }]);
      else callback(null, result.address, result.family);
    });
  };
}

const CANCELLED: ResolvedHost = { ok: false, code: 'ECANCELLED', message: 'resolution abandoned at stop' };

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** The first IPv4 address /etc/hosts gives `host`, else the first IPv6 one (names match case-insensitively). */
export function lookupHostsFile(text: string, host: string): ResolvedHost | undefined {
  const want = host.toLowerCase().replace(/\.$/, '');
  let v6: string | undefined;
  for (const raw of text.split('\n')) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || !names.some((n) => n.toLowerCase() === want)) continue;
    const family = net.isIP(address);
    if (family === 4) return { ok: true, address, family: 4 };
    if (family === 6) v6 ??= address;
  }
  return v6 ? { ok: true, address: v6, family: 6 } : undefined;
}

/** The parts of resolv.conf that decide which names to query. */
export interface ResolvConf {
  search: string[];
  ndots: number;
}

/** Reads `search` (or `domain`, whichever comes last) and `options ndots:n` from resolv.conf text. */
export function parseResolvConf(text: string): ResolvConf {
  let search: string[] = [];
  let ndots = 1;
  for (const raw of text.split('\n')) {
    const [key, ...rest] = raw.replace(/[#;].*/, '').trim().split(/\s+/);
    if (key === 'search' || key === 'domain') search = rest.filter((d) => d !== '' && d !== '.');
    if (key === 'options') {
      for (const opt of rest) {
        const m = /^ndots:(\d+)$/.exec(opt);
        if (m) ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  return { search, ndots };
}

/** The names to query for `host`, in glibc's order: as is first when it has `ndots` dots, else last. */
export function searchCandidates(host: string, conf: ResolvConf): string[] {
  if (host.endsWith('.')) return [host.slice(0, -1)];
  const searched = conf.search.map((d) => `${host}.${d.replace(/\.$/, '')}`);
  const dots = host.split('.').length - 1;
  return dots >= conf.ndots ? [host, ...searched] : [...searched, host];
}
