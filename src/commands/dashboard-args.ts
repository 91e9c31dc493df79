/**
 * `canihaz dashboard`'s own option, declared for the argument parser and checked here: `--listen
 * HOST:PORT`, where HOST is an IP address (IPv6 in brackets) or `localhost`. Kept apart from
 * dashboard.ts so that the CLI knows the option without loading the server.
 */
import { isIP } from 'node:net';
import { CanihazError } from '../errors.js';

/** parseArgs options of `dashboard` (node:util's shape). */
export const DASHBOARD_OPTIONS = {
  listen: { type: 'string' },
} as const;

/** Where the dashboard listens unless told: loopback only. */
export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 3210 } as const;

/** `127.0.0.1:3210`, `[::1]:0`, `localhost:8080` → host and port (0: any free port); throws a usage error. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const bad = (why: string) => new CanihazError('E_USAGE', `--listen: ${why}`);
  if (!m) throw bad(`expected HOST:PORT such as 127.0.0.1:3210 or [::1]:3210, got ${JSON.stringify(text.slice(0, 60))}`);
  const port = Number(m[3]);
  if (port > 65535) throw bad(`port must be 0-65535, got ${m[3]}`);
  if (m[1] !== undefined) {
    if (isIP(m[1]) !== 6) throw bad(`expected an IPv6 address inside [ ], got ${JSON.stringify(m[1].slice(0, 60))}`);
    return { host: m[1], port };
  }
  const host = m[2]!.toLowerCase();
  if (host === 'localhost') return { host: '127.0.0.1', port };
  if (isIP(host) !== 4) throw bad(`expected an IP address or localhost, got ${JSON.stringify(host.slice(0, 60))} (write an IPv6 address in brackets)`);
  return { host, port };
}

/** The listen address from `dashboard`'s parsed options. */
export function dashboardListen(values: Record<string, unknown>): { host: string; port: number } {
  return typeof values.listen === 'string' ? parseListen(values.listen) : { ...DEFAULT_LISTEN };
}
