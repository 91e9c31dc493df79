/**
 * The dashboard's HTTP server (node:http): the page, its script and style, uPlot's files from the
 * installed package, and two read-only JSON endpoints over the journal. GET and HEAD only; every
 * answer says `Content-Security-Policy: default-src 'self'` (no inline script, nothing from another
 * origin) and `nosniff`, and none allows another origin (no CORS). On a loopback address it answers
 * only requests whose Host is a loopback name, so a web page that rebinds its own name to 127.0.0.1
 * cannot read it.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { withDeadline, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { PAGE_CSS } from './page-css.js';
import { PAGE_HTML } from './page-html.js';
import { PAGE_SCRIPT } from './page-script.js';
import { DEFAULT_RUNS_LIMIT, parseDashboardQuery, type DashboardQuery } from './query.js';
import { RangeTooLarge, SourceBusy, type ReportSource } from './report-source.js';

/** What the server needs. */
export interface DashboardServerOptions {
  host: string;
  port: number;
  source: ReportSource;
  clock: Clock;
  logger: Logger;
}

/** A listening dashboard. */
export interface DashboardServer {
  /** The address it bound (the port chosen when 0 was asked). */
  address: { host: string; port: number };
  /** Stops listening and ends open connections; resolves within about a second. */
  close(): Promise<void>;
}

/** Headers of every answer. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** uPlot's files, resolved in the installed package when first asked (so a bundle of the CLI finds them too). */
const UPLOT_FILES: Record<string, { file: string; type: string }> = {
  '/assets/uPlot.iife.min.js': { file: 'uplot/dist/uPlot.iife.min.js', type: JS },
  '/assets/uPlot.min.css': { file: 'uplot/dist/uPlot.min.css', type: CSS },
};

/** Our own files, as strings compiled in. */
const OWN_FILES: Record<string, { body: string; type: string }> = {
  '/': { body: PAGE_HTML, type: 'text/html; charset=utf-8' },
  '/assets/dashboard.js': { body: PAGE_SCRIPT, type: JS },
  '/assets/dashboard.css': { body: PAGE_CSS, type: CSS },
};

/** How long a request may take to arrive, ms. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Most connections open at once. */
const MAX_CONNECTIONS = 64;
/** How long close waits for answers in progress before ending every connection, ms. */
const CLOSE_GRACE_MS = 500;

/** Whether `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The host name part of a Host header (`[::1]:3210` → `[::1]`, `localhost:3210` → `localhost`). */
function hostOf(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d*$/, '');
}

/** Starts the server; throws the listen error (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`) as Node gives it. */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const { source, clock, logger } = options;
  const loopbackOnly = isLoopback(options.host);
  const uplot = new Map<string, Promise<Buffer>>();
  const require = createRequire(import.meta.url);

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), { 'Cache-Control': 'no-store' });
  const text = (res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}) =>
    send(res, status, 'text/plain; charset=utf-8', message + '\n', extra);

  const api = async (res: ServerResponse, query: DashboardQuery, what: 'report' | 'runs') => {
    try {
      const report = await source.get(query);
      const limit = query.limit ?? (what === 'runs' ? DEFAULT_RUNS_LIMIT : undefined);
      const runs = limit === undefined ? report.runs : report.runs.slice(-limit);
      if (what === 'runs') json(res, 200, { from: report.from, to: report.to, total: report.runs.length, runs });
      else json(res, 200, limit === undefined ? report : { ...report, runs, runsTotal: report.runs.length });
    } catch (err) {
      if (err instanceof SourceBusy) return json(res, 503, { error: err.message });
      if (err instanceof RangeTooLarge) return json(res, 422, { error: err.message });
      const e = err as NodeJS.ErrnoException;
      logger.warn('dashboard: journal cannot be read', { error: e.code ?? e.message });
      json(res, 500, { error: `the journal cannot be read: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message}` });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed: the dashboard is read-only (GET, HEAD)', { Allow: 'GET, HEAD' });
    if (loopbackOnly && !isLoopback(hostOf(req.headers.host ?? ''))) {
      return text(res, 403, 'forbidden: this dashboard answers only requests for a loopback host name (127.0.0.1, localhost, [::1])');
    }
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const own = OWN_FILES[url.pathname];
    if (own) return send(res, 200, own.type, own.body, { 'Cache-Control': 'no-cache' });
    const asset = UPLOT_FILES[url.pathname];
    if (asset) {
      let body = uplot.get(url.pathname);
      if (!body) uplot.set(url.pathname, (body = readFile(require.resolve(asset.file))));
      try {
        return send(res, 200, asset.type, await body, { 'Cache-Control': 'max-age=3600' });
      } catch (err) {
        uplot.delete(url.pathname);
        logger.error('dashboard: the uplot package cannot be read', { error: (err as Error).message });
        return text(res, 500, `the chart library cannot be read: ${(err as Error).message}`);
      }
    }
    if (url.pathname === '/api/report' || url.pathname === '/api/runs') {
      const query = parseDashboardQuery(url.searchParams, clock.wallNow());
      if ('problems' in query) return json(res, 400, { error: query.problems.join('; '), problems: query.problems });
      return api(res, query, url.pathname === '/api/report' ? 'report' : 'runs');
    }
    return text(res, 404, 'not found');
  };

  const server: Server = createServer((req, res) => {
    logger.debug('dashboard request', { method: req.method, path: req.url?.slice(0, 200) });
    handle(req, res).catch((err: unknown) => {
      logger.error('dashboard: internal error (a bug)', { error: (err as Error)?.stack ?? String(err) });
      if (!res.headersSent) text(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('dashboard: server error', { error: err.message }));
  const bound = server.address() as AddressInfo;

  return {
    address: { host: bound.address, port: bound.port },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await withDeadline(clock, closed, CLOSE_GRACE_MS);
      server.closeAllConnections();
      await withDeadline(clock, closed, CLOSE_GRACE_MS);
    },
  };
}
