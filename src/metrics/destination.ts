/**
 * Where metrics go: the `metrics_destination` field's syntax (`statsd`, `statsd+tcp://host:port`,
 * `graphite://host:port`, `console`, `none`), owned here beside the sinks it names, and one stable
 * key per destination so tests naming the same place share one sink.
 */
import { isIPv6 } from 'node:net';
import { quoteValue, redactUrl } from '../redact.js';

/** A place metrics go, as parsed from a config line's `metrics_destination` field. */
export type Destination =
  | { kind: 'statsd'; protocol: 'udp' | 'tcp'; host: string; port: number }
  | { kind: 'graphite'; host: string; port: number }
  | { kind: 'console' }
  | { kind: 'none' };

/** The host:port used by the bare words `statsd` and `graphite`. */
export interface DestinationDefaults {
  statsd: { host: string; port: number };
  graphite: { host: string; port: number };
}

/** Default targets for bare `statsd` and `graphite`. */
export const DEFAULT_DESTINATIONS: DestinationDefaults = {
  statsd: { host: '127.0.0.1', port: 8125 },
  graphite: { host: '127.0.0.1', port: 2003 },
};

/** One stable string per destination, used to share one sink between tests that name the same place. */
export function destinationKey(d: Destination): string {
  switch (d.kind) {
    case 'statsd':
      return `statsd${d.protocol === 'tcp' ? '+tcp' : ''}://${formatHost(d.host)}:${d.port}`;
    case 'graphite':
      return `graphite://${formatHost(d.host)}:${d.port}`;
    case 'console':
    case 'none':
      return d.kind;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Parses `host:port` (IPv6 as `[::1]:8125`); returns an error message instead of throwing. */
export function parseHostPort(text: string): { host: string; port: number } | { error: string } {
  const m = /^(?:\[([^\]]+)\]|([^:\s/[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return { error: `expected host:port, got ${quoteValue(redactUrl(text))}` };
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { error: `port must be 1-65535, got ${m[3]}` };
  // One spelling per host, so that two spellings of one server are one destination (each execution
  // counted once): names in lower case, IPv6 addresses in their canonical form.
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) return { error: `expected an IPv6 address inside [ ], got ${quoteValue(m[1])}` };
    return { host: new URL(`http://[${m[1]}]/`).hostname.slice(1, -1), port };
  }
  return { host: m[2]!.toLowerCase(), port };
}

/** Parses a comma-separated destination list; returns every destination or the first problem. */
export function parseDestinations(
  text: string,
  defaults: DestinationDefaults = DEFAULT_DESTINATIONS,
): { ok: true; destinations: Destination[] } | { ok: false; message: string } {
  const out: Destination[] = [];
  const seen = new Set<string>();
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') return { ok: false, message: 'is empty; expected statsd, graphite, console, none or a statsd:// or graphite:// URL' };
  for (const part of parts) {
    let d: Destination;
    const m = /^(statsd|statsd\+tcp|statsd\+udp|graphite):\/\/(.*)$/i.exec(part);
    if (part === '') return { ok: false, message: 'has an empty entry between commas' };
    if (/^statsd$/i.test(part)) d = { kind: 'statsd', protocol: 'udp', ...defaults.statsd };
    else if (/^graphite$/i.test(part)) d = { kind: 'graphite', ...defaults.graphite };
    else if (/^console$/i.test(part)) d = { kind: 'console' };
    else if (/^none$/i.test(part)) d = { kind: 'none' };
    else if (m) {
      const hp = parseHostPort(m[2]!.replace(/\/$/, ''));
      if ('error' in hp) return { ok: false, message: `${quoteValue(redactUrl(part))}: ${hp.error}` };
      const scheme = m[1]!.toLowerCase();
      d = scheme === 'graphite' ? { kind: 'graphite', ...hp } : { kind: 'statsd', protocol: scheme === 'statsd+tcp' ? 'tcp' : 'udp', ...hp };
    } else {
      return {
        ok: false,
        message: `unknown destination ${quoteValue(redactUrl(part))}; expected statsd, graphite, console, none, statsd://host:port, statsd+tcp://host:port or graphite://host:port`,
      };
    }
    const key = destinationKey(d);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  if (out.some((d) => d.kind === 'none') && out.length > 1) {
    return { ok: false, message: '"none" cannot be combined with other destinations' };
  }
  return { ok: true, destinations: out };
}
