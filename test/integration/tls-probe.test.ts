import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { ProbeResult } from '../../src/events.js';
import { silentLogger, type LogFields, type Logger } from '../../src/log.js';
import { createHostResolver } from '../../src/net/resolve.js';
import type { Probe } from '../../src/probes/probe.js';
import type { TlsProbeOptions } from '../../src/probes/tls-params.js';
import { createTlsProbe, tlsProbeType } from '../../src/probes/tls.js';
import { NO_OPENSSL, testCerts, type TestCert } from '../support/certs.js';
import { waitFor } from '../support/cli.js';
import { startPrivateDns, type DnsAnswer } from '../support/private-resolver.js';

const certs = testCerts();
const skipNote = certs ? '' : ` (skipped: ${NO_OPENSSL})`;
const never = new AbortController().signal;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A logger that keeps its debug lines. */
function debugLogger(): Logger & { lines: { msg: string; fields: LogFields }[] } {
  const lines: { msg: string; fields: LogFields }[] = [];
  return { ...silentLogger, lines, debug: (msg, fields = {}) => void lines.push({ msg, fields }) };
}

/** Parses `key=value` fields as a config line would. */
function optionsFor(...fields: string[]): TlsProbeOptions {
  const params = new Map<string, string[]>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    params.set(f.slice(0, eq), [...(params.get(f.slice(0, eq)) ?? []), f.slice(eq + 1)]);
  }
  const parsed = tlsProbeType.parse(params);
  if (!parsed.ok) throw new Error(`bad params: ${JSON.stringify(parsed.issues)}`);
  return parsed.options;
}

/** The probe for `key=value` fields, closed after the test; `logger` receives its debug lines. */
function probeFor(logger: Logger, ...fields: string[]): Probe {
  const probe = tlsProbeType.create(optionsFor(...fields), { clock: systemClock, logger, test: 'tls-test' });
  cleanups.push(() => probe.close());
  return probe;
}

/** Listens on `host` port 0, destroying every accepted socket at close. */
async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, host);
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

/** A real TLS server presenting `cert`; records the SNI names it is sent and the TCP connections it accepts. */
async function tlsServer(cert: TestCert, host = '127.0.0.1'): Promise<{ port: number; names: string[]; connections: () => number }> {
  const names: string[] = [];
  let connections = 0;
  const server = tls.createServer({ key: cert.key, cert: cert.cert, SNICallback: (name, cb) => (names.push(name), cb(null, undefined)) });
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  server.on('secureConnection', (s) => s.on('error', () => {}));
  return { port: await listen(server, host), names, connections: () => connections };
}

function daysLeft(result: ProbeResult): number | undefined {
  return result.samples?.find((s) => s.name === 'days_left' && s.kind === 'gauge')?.value;
}

describe.skipIf(!certs)(`tls probe against real TLS servers${skipNote}`, () => {
  it('ok with ca=: days_left ≈ 365 in the sample, latency measured, no SNI for an IP target', async () => {
    const server = await tlsServer(certs!.leaf);
    const result = await probeFor(silentLogger, `target=127.0.0.1:${server.port}`, `ca=${certs!.ca.certPath}`).execute(never);
    expect(result).toMatchObject({ ok: true });
    expect(result.reason).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThan(0);
    expect(result.latencyMs).toBeLessThan(2_000);
    expect(daysLeft(result)).toBeGreaterThan(364.9);
    expect(daysLeft(result)).toBeLessThanOrEqual(365);
    // Two decimals.
    expect(String(daysLeft(result))).toMatch(/^\d+(\.\d{1,2})?$/);
    expect(server.connections()).toBe(1);
    expect(server.names).toEqual([]);
  });

  it('ok for a host name (resolved by the probe, not getaddrinfo): SNI carries the name', async () => {
    const server = await tlsServer(certs!.leaf);
    const result = await probeFor(silentLogger, `target=localhost:${server.port}`, `ca=${certs!.ca.certPath}`).execute(never);
    expect(result).toMatchObject({ ok: true });
    expect(server.names).toEqual(['localhost']);
  });

  it('a name from its resolver: SNI and the check use the name; NXDOMAIN is dns', async () => {
    const answering = async (answer: DnsAnswer) => {
      const dns = await startPrivateDns({ answer });
      const resolver = createHostResolver({ servers: [dns.server], hostsFile: '/dev/null', resolvConf: '/dev/null' });
      cleanups.push(async () => {
        resolver.cancel();
        await dns.close();
      });
      return resolver;
    };
    const server = await tlsServer(certs!.leaf);
    const context = { clock: systemClock, logger: silentLogger, test: 'tls-test' };
    const named = createTlsProbe(optionsFor(`target=target.example.test:${server.port}`, `ca=${certs!.ca.certPath}`), context, await answering({ a: '127.0.0.1' }));
    cleanups.push(() => named.close());
    expect(await named.execute(never)).toMatchObject({ ok: true });
    expect(server.names).toEqual(['target.example.test']);

    const logger = debugLogger();
    const missing = createTlsProbe(optionsFor('target=nowhere.example.test:443'), { ...context, logger }, await answering('nxdomain'));
    cleanups.push(() => missing.close());
    const result = await missing.execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.samples).toBeUndefined();
    expect(logger.lines).toContainEqual({ msg: 'tls probe: cannot resolve the target', fields: { test: 'tls-test', target: 'nowhere.example.test:443', code: 'ENOTFOUND' } });
  });

  it('IPv6: target=[::1]:port', async (ctx) => {
    const server = await tlsServer(certs!.leaf, '::1').catch(() => undefined);
    if (!server) return ctx.skip();
    expect(await probeFor(silentLogger, `target=[::1]:${server.port}`, `ca=${certs!.ca.certPath}`).execute(never)).toMatchObject({ ok: true });
  });

  it('expiring: the 3-day certificate fails below min_days (14) with days_left ≈ 3 still sent; min_days=0 or 2.5 passes', async () => {
    const server = await tlsServer(certs!.expiring);
    const ca = `ca=${certs!.ca.certPath}`;
    const target = `target=127.0.0.1:${server.port}`;
    const failed = await probeFor(silentLogger, target, ca).execute(never);
    expect(failed).toMatchObject({ ok: false, reason: 'expiring' });
    expect(daysLeft(failed)).toBeGreaterThan(2.99);
    expect(daysLeft(failed)).toBeLessThanOrEqual(3);
    expect(await probeFor(silentLogger, target, ca, 'min_days=0').execute(never)).toMatchObject({ ok: true });
    expect(await probeFor(silentLogger, target, ca, 'min_days=2.5').execute(never)).toMatchObject({ ok: true });
    expect(await probeFor(silentLogger, target, ca, 'min_days=3.5').execute(never)).toMatchObject({ ok: false, reason: 'expiring' });
  });

  it('tls: a CA-signed certificate without ca= (the code in the debug log, days_left still sent)', async () => {
    const server = await tlsServer(certs!.leaf);
    const logger = debugLogger();
    const result = await probeFor(logger, `target=127.0.0.1:${server.port}`).execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(daysLeft(result)).toBeGreaterThan(364);
    expect(logger.lines).toEqual([
      { msg: 'tls probe: certificate not accepted', fields: { test: 'tls-test', target: `127.0.0.1:${server.port}`, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } },
    ]);
  });

  it('tls: a self-signed certificate, even with another ca=', async () => {
    const server = await tlsServer(certs!.selfSigned);
    const logger = debugLogger();
    expect(await probeFor(logger, `target=127.0.0.1:${server.port}`, `ca=${certs!.ca.certPath}`).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(logger.lines.map((l) => l.fields.code)).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT']);
  });

  it('tls: a name mismatch (IP target, then a name); servername= names what the certificate is for', async () => {
    const server = await tlsServer(certs!.mismatch);
    const ca = `ca=${certs!.ca.certPath}`;
    const logger = debugLogger();
    expect(await probeFor(logger, `target=127.0.0.1:${server.port}`, ca).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(await probeFor(logger, `target=localhost:${server.port}`, ca).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(logger.lines.map((l) => l.fields.code)).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);
    expect(await probeFor(logger, `target=127.0.0.1:${server.port}`, ca, 'servername=other.example').execute(never)).toMatchObject({ ok: true });
    expect(server.names).toEqual(['localhost', 'other.example']);
  });

  it('tls: a server that does not speak TLS (plain HTTP), no certificate seen', async () => {
    const server = net.createServer((s) => s.on('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const port = await listen(server);
    const logger = debugLogger();
    const result = await probeFor(logger, `target=127.0.0.1:${port}`).execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.samples).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ msg: 'tls probe: handshake failed', fields: { test: 'tls-test', code: 'ERR_SSL_WRONG_VERSION_NUMBER' } });
  });
});

describe('tls probe: connection failures', () => {
  it('refused: nothing listens', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    expect(await probeFor(silentLogger, `target=127.0.0.1:${port}`).execute(never)).toMatchObject({ ok: false, reason: 'refused' });
  });

  it('timeout: a server that accepts TCP and never speaks TLS; the probe ends on its own timer', async () => {
    let open = 0;
    const server = net.createServer((s) => {
      open++;
      s.on('close', () => open--);
      s.resume(); // reads (and ignores) the ClientHello, so it sees the probe's socket close
    });
    const port = await listen(server);
    const started = performance.now();
    const result = await probeFor(silentLogger, `target=127.0.0.1:${port}`, 'timeout=400ms').execute(never);
    const took = performance.now() - started;
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(399);
    expect(took).toBeLessThan(1_500);
    // The socket was destroyed: the server sees the connection close.
    expect(await waitFor(() => open === 0, 1_000)).toBe(true);
  });

  it('reset: a server that resets every connection', async () => {
    const server = net.createServer((s) => s.resetAndDestroy());
    const port = await listen(server);
    expect(await probeFor(silentLogger, `target=127.0.0.1:${port}`).execute(never)).toMatchObject({ ok: false, reason: 'reset' });
  });

  it('aborted: the run stops mid-handshake; an execution started after the stop does nothing', async () => {
    const server = net.createServer(() => {});
    const port = await listen(server);
    const probe = probeFor(silentLogger, `target=127.0.0.1:${port}`);
    const stop = new AbortController();
    const started = performance.now();
    const pending = probe.execute(stop.signal);
    setTimeout(() => stop.abort(), 100);
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await probe.execute(stop.signal)).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
  });
});
