import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { createHostResolver, type HostResolver } from '../../src/net/resolve.js';
import { createHttpProbe, httpProbeType } from '../../src/probes/http.js';
import type { HttpProbeOptions } from '../../src/probes/http-params.js';
import type { Probe } from '../../src/probes/probe.js';
import { connectHangs, startHangingConnectTarget, type HangingConnectTarget } from '../support/hanging-connect.js';
import { startPrivateDns, type DnsAnswer, type PrivateDns } from '../support/private-resolver.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const probes: Probe[] = [];

const cleanupTargets: HangingConnectTarget[] = [];
const cleanupLater: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanupTargets.splice(0).map((t) => t.close()));
  for (const f of cleanupLater.splice(0).reverse()) await f();
  // Probes first (their pools close their sockets), then servers, cutting any socket still held open.
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

/** A real HTTP server on 127.0.0.1, an ephemeral port; counts the TCP connections it accepts. */
async function serve(handler: Handler): Promise<{ origin: string; port: number; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, port, connections: () => connections };
}

/** Parses `key=value` fields as a config line would. */
function optionsFor(...fields: string[]): HttpProbeOptions {
  const params = new Map<string, string[]>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    params.set(key, [...(params.get(key) ?? []), f.slice(eq + 1)]);
  }
  const parsed = httpProbeType.parse(params);
  if (!parsed.ok) throw new Error(`bad params: ${JSON.stringify(parsed.issues)}`);
  return parsed.options;
}

/** What the run gives a probe: the real clock, no log. */
const context = { clock: systemClock, logger: silentLogger, test: 'http-probe-test' };

/** Creates the probe for `key=value` fields (closed after the test). */
function probeFor(...fields: string[]): Probe {
  const probe = httpProbeType.create(optionsFor(...fields), context);
  probes.push(probe);
  return probe;
}

/** Creates the probe with its own resolver (closed after the test; the resolver is cancelled after it). */
function probeResolvedBy(resolver: HostResolver, ...fields: string[]): Probe {
  const probe = createHttpProbe(optionsFor(...fields), context, resolver);
  probes.push(probe);
  cleanupLater.push(async () => resolver.cancel());
  return probe;
}

/** A DNS server of ours on 127.0.0.1 and a resolver that asks only it (hosts file: `hosts`). */
async function privateResolver(answer: DnsAnswer, hosts = '', timeoutMs?: number): Promise<{ dns: PrivateDns; resolver: HostResolver }> {
  const dns = await startPrivateDns({ answer });
  cleanupLater.push(dns.close);
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-hosts-'));
  cleanupLater.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hosts'), hosts);
  const resolver = createHostResolver({ servers: [dns.server], hostsFile: join(dir, 'hosts'), resolvConf: dns.resolvConf, ...(timeoutMs ? { timeoutMs } : {}) });
  return { dns, resolver };
}

const never = new AbortController().signal;

/** A throwaway self-signed certificate for localhost, or undefined where no openssl CLI exists. */
function selfSignedCert(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('http probe against real servers', () => {
  it('succeeds on 200 and measures latency including the body', async () => {
    const { origin } = await serve((_req, res) => {
      res.write('head-');
      setTimeout(() => res.end('tail'), 60);
    });
    const result = await probeFor(`url=${origin}/health`).execute(never);
    expect(result.ok).toBe(true);
    expect(result.reason).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThanOrEqual(55);
    expect(result.latencyMs).toBeLessThan(1_000);
  });

  it('reports status_503 when the status is not expected', async () => {
    const { origin } = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    expect(await probeFor(`url=${origin}/`).execute(never)).toMatchObject({ ok: false, reason: 'status_503' });
  });

  it('counts a 302 as success by default but not with expect=2xx, and does not follow it', async () => {
    let hits = 0;
    const { origin } = await serve((_req, res) => {
      hits++;
      res.writeHead(302, { location: '/elsewhere' }).end();
    });
    expect(await probeFor(`url=${origin}/`).execute(never)).toMatchObject({ ok: true });
    expect(await probeFor(`url=${origin}/`, 'expect=2xx').execute(never)).toMatchObject({ ok: false, reason: 'status_302' });
    expect(hits).toBe(2);
  });

  it('sends the method, path, headers and body it was given', async () => {
    const seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const { origin } = await serve((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        Object.assign(seen, { method: req.method, url: req.url, headers: req.headers, body });
        res.statusCode = 201;
        res.end();
      });
    });
    const probe = probeFor(
      `url=${origin}/orders?dry=1`,
      'method=post',
      'header=Content-Type: application/json',
      'header=X-Trace: abc',
      'header=X-Trace: def',
      'body={"qty": 2}',
    );
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/orders?dry=1');
    expect(seen.headers?.['content-type']).toBe('application/json');
    expect(seen.headers?.['x-trace']).toBe('abc, def');
    expect(seen.headers?.['content-length']).toBe('10');
    expect(seen.body).toBe('{"qty": 2}');
  });

  it('times out a server that never answers after its own timeout', async () => {
    const { origin } = await serve(() => {});
    const result = await probeFor(`url=${origin}/`, 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(result.latencyMs).toBeLessThan(800);
  });

  it('times out a body that stalls after the headers', async () => {
    const { origin } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    });
    const result = await probeFor(`url=${origin}/`, 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeLessThan(800);
  });

  it('reports aborted promptly when the caller aborts', async () => {
    const { origin } = await serve(() => {});
    const caller = new AbortController();
    const pending = probeFor(`url=${origin}/`, 'timeout=10s').execute(caller.signal);
    setTimeout(() => caller.abort(), 50);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, reason: 'aborted' });
    expect(result.latencyMs).toBeLessThan(500);
  });

  it('reports aborted when the caller aborts in the middle of the body', async () => {
    const { origin } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const caller = new AbortController();
    const pending = probeFor(`url=${origin}/`).execute(caller.signal);
    setTimeout(() => caller.abort(), 50);
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
  });

  it('reports aborted without dispatching when the signal is already aborted', async () => {
    const { origin, connections } = await serve((_req, res) => res.end());
    const result = await probeFor(`url=${origin}/`).execute(AbortSignal.abort());
    expect(result).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
    expect(connections()).toBe(0);
  });

  it('reports refused for a closed port', async () => {
    const { port } = await serve(() => {});
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    expect(await probeFor(`url=http://127.0.0.1:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'refused' });
  });

  it('reports reset when the server destroys the socket', async () => {
    const { origin } = await serve((req) => req.socket.destroy());
    expect(await probeFor(`url=${origin}/`).execute(never)).toMatchObject({ ok: false, reason: 'reset' });
  });

  it('reports reset when the server dies in the middle of the body', async () => {
    const { origin } = await serve((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => req.socket.destroy());
    });
    expect(await probeFor(`url=${origin}/`).execute(never)).toMatchObject({ ok: false, reason: 'reset' });
  });

  it('reports tls when speaking https to a plain http port', async () => {
    const { port } = await serve((_req, res) => res.end());
    expect(await probeFor(`url=https://127.0.0.1:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
  });

  const cert = selfSignedCert();
  it.skipIf(!cert)('reports tls for a certificate it cannot verify (self-signed)', async () => {
    const server = createTlsServer(cert!, (_req, res) => res.end('ok'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    expect(await probeFor(`url=https://localhost:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
  });

  // The name is asked of a DNS server of ours on loopback (NXDOMAIN), never of the machine's resolver.
  it('reports dns for a name that does not resolve', async () => {
    const { dns, resolver } = await privateResolver('nxdomain');
    expect(await probeResolvedBy(resolver, 'url=http://canihaz-probe-test.invalid/', 'timeout=3s').execute(never)).toMatchObject({
      ok: false,
      reason: 'dns',
    });
    expect(dns.queries).toContain('canihaz-probe-test.invalid');
  });

  it('reuses one keep-alive connection for sequential executions', async () => {
    const { origin, connections } = await serve((_req, res) => res.end('ok'));
    const probe = probeFor(`url=${origin}/`);
    for (let i = 0; i < 20; i++) expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(connections()).toBe(1);
  });

  it('opens one connection per concurrent execution and reuses them afterwards', async () => {
    const { origin, connections } = await serve((_req, res) => setTimeout(() => res.end('ok'), 20));
    const probe = probeFor(`url=${origin}/`);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => probe.execute(never)));
      expect(results.every((r) => r.ok)).toBe(true);
    }
    expect(connections()).toBe(10);
  });

  it('drains a large body completely and keeps the connection', async () => {
    const size = 8 * 1024 * 1024;
    let finished = 0;
    const { origin, connections } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      res.end(Buffer.alloc(size, 'x'));
      res.on('finish', () => finished++);
    });
    const probe = probeFor(`url=${origin}/big`);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(finished).toBe(2);
    expect(connections()).toBe(1);
  });

  it('drains the body of an unexpected status too, keeping the connection', async () => {
    const { origin, connections } = await serve((_req, res) => {
      res.statusCode = 500;
      res.end('x'.repeat(256 * 1024));
    });
    const probe = probeFor(`url=${origin}/`);
    expect(await probe.execute(never)).toMatchObject({ reason: 'status_500' });
    expect(await probe.execute(never)).toMatchObject({ reason: 'status_500' });
    expect(connections()).toBe(1);
  });

  it('prepare() opens the first connection ahead without sending a request, and the first execution uses it', async () => {
    let requests = 0;
    const { origin, connections } = await serve((_req, res) => {
      requests++;
      res.end('ok');
    });
    const probe = probeFor(`url=${origin}/`);
    await probe.prepare!();
    await new Promise((r) => setTimeout(r, 20));
    expect(connections()).toBe(1);
    expect(requests).toBe(0);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(connections()).toBe(1);
    expect(requests).toBe(2);
  });

  it('falls back to a fresh connection when the prepared one was closed by the server', async () => {
    const { origin, connections } = await serve((_req, res) => res.end('ok'));
    const server = servers[servers.length - 1]!;
    const probe = probeFor(`url=${origin}/`);
    await probe.prepare!();
    server.closeAllConnections();
    await new Promise((r) => setTimeout(r, 20));
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(connections()).toBe(2);
  });

  it('prepare() against a closed port resolves quietly; the execution then reports refused', async () => {
    const { port } = await serve((_req, res) => res.end());
    const server = servers.pop()!;
    await new Promise((r) => server.close(r));
    const probe = probeFor(`url=http://127.0.0.1:${port}/`);
    await expect(probe.prepare!()).resolves.toBeUndefined();
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'refused' });
  });

  it('one connection per test exhausts file descriptors: tests to one origin share its connections', async () => {
    const { origin, connections } = await serve((_req, res) => res.end('ok'));
    const many = Array.from({ length: 50 }, (_, i) => probeFor(`url=${origin}/t${i}`));
    for (const probe of many) expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(connections()).toBe(1);
  });

  it('closing one test keeps the shared connections; the last close closes them', async () => {
    let open = 0;
    const { origin } = await serve((_req, res) => res.end('ok'));
    const server = servers.at(-1)!;
    server.on('connection', (socket) => {
      open++;
      socket.on('close', () => open--);
    });
    const [a, b] = [probeFor(`url=${origin}/a`), probeFor(`url=${origin}/b`)];
    expect(await a.execute(never)).toMatchObject({ ok: true });
    await a.close();
    expect(await b.execute(never)).toMatchObject({ ok: true });
    expect(open).toBe(1);
    await b.close();
    await vi.waitFor(() => expect(open).toBe(0), { timeout: 2_000 });
  });

  it('a stop waits for connections that never open: an execution waiting for a connect is aborted at once', async () => {
    const target = await startHangingConnectTarget();
    cleanupTargets.push(target);
    expect(await connectHangs(target.port, 300), 'precondition: a connect to a full accept queue hangs on loopback').toBe(true);
    const probe = probeFor(`url=http://127.0.0.1:${target.port}/`, 'timeout=60s');
    const stop = new AbortController();
    const pending = [probe.execute(stop.signal), probe.execute(stop.signal), probe.execute(stop.signal)];
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = performance.now();
    stop.abort();
    const results = await Promise.all(pending);
    expect(performance.now() - stoppedAt).toBeLessThan(100);
    for (const r of results) expect(r).toMatchObject({ ok: false, reason: 'aborted' });
    // Closing destroys the pool and its pending connects at once, instead of waiting out the 60 s.
    const closedAt = performance.now();
    await probe.close();
    expect(performance.now() - closedAt).toBeLessThan(100);
  });

  it('a connect that hangs past `timeout` is a timeout, on time', async () => {
    const target = await startHangingConnectTarget();
    cleanupTargets.push(target);
    const result = await probeFor(`url=http://127.0.0.1:${target.port}/`, 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(295);
    expect(result.latencyMs).toBeLessThan(600);
  });

  it('never rejects after close', async () => {
    const { origin } = await serve((_req, res) => res.end());
    const probe = probeFor(`url=${origin}/`);
    await probe.close();
    await probe.close();
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'other' });
  });
});

describe('target host names (resolved by our resolver, never by getaddrinfo)', () => {
  it('a name is resolved once for all of its connections, and the request still names the host', async () => {
    const { dns, resolver } = await privateResolver({ a: '127.0.0.1' });
    const hosts: string[] = [];
    const { port, connections } = await serve((req, res) => {
      hosts.push(req.headers.host ?? '');
      // A connection per request: every execution connects, so every one needs the address.
      res.setHeader('connection', 'close');
      setTimeout(() => res.end('ok'), 20);
    });
    const probe = probeResolvedBy(resolver, `url=http://target.example.test:${port}/`);
    // Ten connections at once (one lookup, shared), then ten more (the address remembered).
    const first = await Promise.all(Array.from({ length: 10 }, () => probe.execute(never)));
    expect(first.every((r) => r.ok), JSON.stringify(first)).toBe(true);
    const second = await Promise.all(Array.from({ length: 10 }, () => probe.execute(never)));
    expect(second.every((r) => r.ok), JSON.stringify(second)).toBe(true);
    expect(connections()).toBe(20);
    expect(dns.queries).toEqual(['target.example.test']);
    expect(new Set(hosts)).toEqual(new Set([`target.example.test:${port}`]));
  });

  it('a name in the hosts file is not asked of DNS', async () => {
    const { dns, resolver } = await privateResolver('silent', '127.0.0.1 target.example.test\n');
    const { port } = await serve((_req, res) => res.end('ok'));
    expect(await probeResolvedBy(resolver, `url=http://target.example.test:${port}/`).execute(never)).toMatchObject({ ok: true });
    expect(dns.queries).toEqual([]);
  });

  const cert = selfSignedCert();
  it.skipIf(!cert)('https: the TLS handshake names the host (SNI), not the address it was resolved to', async () => {
    const { resolver } = await privateResolver('silent', '127.0.0.1 target.example.test\n');
    const names: string[] = [];
    const server = createTlsServer({ ...cert!, SNICallback: (name, cb) => (names.push(name), cb(null, undefined)) }, (_req, res) => res.end('ok'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // Self-signed, so the certificate check fails: after the server saw the name.
    expect(await probeResolvedBy(resolver, `url=https://target.example.test:${port}/`).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(names).toContain('target.example.test');
  });

  it('a resolver that does not answer within its own timeout is dns, not timeout', async () => {
    const { dns, resolver } = await privateResolver('silent', '', 300);
    const result = await probeResolvedBy(resolver, 'url=http://slow.example.test/', 'timeout=5s').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.latencyMs).toBeLessThan(1_500);
    expect(dns.queries[0]).toBe('slow.example.test');
  });

  it('A target host name on a slow resolver: a stop aborts executions waiting for the lookup at once, and close returns at once', async () => {
    const { dns, resolver } = await privateResolver('silent', '', 60_000);
    const probe = probeResolvedBy(resolver, 'url=http://slow.example.test/', 'timeout=60s');
    const stop = new AbortController();
    const pending = [probe.execute(stop.signal), probe.execute(stop.signal), probe.execute(stop.signal)];
    await new Promise((r) => setTimeout(r, 200));
    expect(dns.queries.length).toBeGreaterThan(0);
    const stoppedAt = performance.now();
    stop.abort();
    const results = await Promise.all(pending);
    expect(performance.now() - stoppedAt).toBeLessThan(100);
    for (const r of results) expect(r).toMatchObject({ ok: false, reason: 'aborted' });
    const closedAt = performance.now();
    await probe.close();
    expect(performance.now() - closedAt).toBeLessThan(100);
  });
});
