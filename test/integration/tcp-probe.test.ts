import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { createHostResolver, type HostResolver } from '../../src/net/resolve.js';
import type { Probe } from '../../src/probes/probe.js';
import { createTcpProbe, tcpProbeType } from '../../src/probes/tcp.js';
import type { TcpProbeOptions } from '../../src/probes/tcp-params.js';
import { connectHangs, startHangingConnectTarget } from '../support/hanging-connect.js';
import { startPrivateDns, type DnsAnswer } from '../support/private-resolver.js';

const cleanupLater: (() => Promise<void>)[] = [];
const probes: Probe[] = [];

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  for (const f of cleanupLater.splice(0).reverse()) await f();
});

/** A real TCP server on 127.0.0.1 (or `host`), port 0, that counts the connections it has open and has accepted. */
interface TcpServer {
  port: number;
  accepted: () => number;
  open: () => number;
  /** Every byte each connection sent, one Buffer per connection, in accept order. */
  received: Buffer[];
  server: Server;
}

async function serve(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<TcpServer> {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    const index = received.push(Buffer.alloc(0)) - 1;
    socket.on('data', (d: Buffer) => (received[index] = Buffer.concat([received[index]!, d])));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  cleanupLater.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted, open: () => sockets.size, received, server };
}

const echo = (socket: Socket) => socket.pipe(socket);
const silent = () => {};

/** Parses `key=value` fields as a config line would. */
function optionsFor(...fields: string[]): TcpProbeOptions {
  const params = new Map<string, string[]>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    params.set(f.slice(0, eq), [...(params.get(f.slice(0, eq)) ?? []), f.slice(eq + 1)]);
  }
  const parsed = tcpProbeType.parse(params);
  if (!parsed.ok) throw new Error(`bad params: ${JSON.stringify(parsed.issues)}`);
  return parsed.options;
}

const context = { clock: systemClock, logger: silentLogger, test: 'tcp-probe-test' };

function probeFor(...fields: string[]): Probe {
  const probe = tcpProbeType.create(optionsFor(...fields), context);
  probes.push(probe);
  return probe;
}

/** A probe whose names are resolved by a DNS server of ours on loopback answering `answer` (and a hosts file `hosts`). */
async function probeWithDns(answer: DnsAnswer, hosts: string, ...fields: string[]): Promise<{ probe: Probe; queries: string[]; resolver: HostResolver }> {
  const dns = await startPrivateDns({ answer });
  cleanupLater.push(dns.close);
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-hosts-'));
  cleanupLater.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hosts'), hosts);
  const resolver = createHostResolver({ servers: [dns.server], hostsFile: join(dir, 'hosts'), resolvConf: dns.resolvConf });
  const probe = createTcpProbe(optionsFor(...fields), context, resolver);
  probes.push(probe);
  return { probe, queries: dns.queries, resolver };
}

const never = new AbortController().signal;

describe('tcp probe: success', () => {
  it('connect only: ok, one fresh connection per execution, each closed afterwards', async () => {
    const target = await serve(silent);
    const probe = probeFor(`target=127.0.0.1:${target.port}`);
    for (let i = 0; i < 5; i++) {
      const result = await probe.execute(never);
      expect(result).toEqual({ ok: true, latencyMs: expect.any(Number) as number });
      expect(result.latencyMs).toBeLessThan(500);
    }
    expect(target.accepted()).toBe(5);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(Buffer.concat(target.received).length).toBe(0);
  });

  it('send and expect against an echo server; escapes are sent as bytes', async () => {
    const target = await serve(echo);
    const probe = probeFor(`target=127.0.0.1:${target.port}`, String.raw`send=PING\r\n\x00\xff`, String.raw`expect=NG\r\n\x00`);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(target.received[0]).toEqual(Buffer.from([...Buffer.from('PING\r\n'), 0x00, 0xff]));
  });

  it('send without expect: ok once written, and the server gets the bytes', async () => {
    const target = await serve(silent);
    expect(await probeFor(`target=127.0.0.1:${target.port}`, String.raw`send=QUIT\n`).execute(never)).toMatchObject({ ok: true });
    await vi.waitFor(() => expect(target.received[0]).toEqual(Buffer.from('QUIT\n')), { timeout: 2_000 });
  });

  it('expect alone matches a banner; latency runs to the match', async () => {
    const target = await serve((socket) => setTimeout(() => socket.write('SSH-2.0-test\r\n'), 80));
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'expect=SSH-2.0').execute(never);
    expect(result).toMatchObject({ ok: true });
    expect(result.latencyMs).toBeGreaterThanOrEqual(75);
    expect(result.latencyMs).toBeLessThan(1_000);
  });

  it('matches across chunk boundaries (one byte at a time, and a split after 1 KiB)', async () => {
    const reply = 'x'.repeat(1_024) + '+PONG\r\n';
    const target = await serve((socket) => {
      let i = 0;
      const next = () => {
        if (socket.destroyed || i >= reply.length) return;
        // 1 KiB at once, then the expected text byte by byte, each in its own segment.
        const size = i === 0 ? 1_024 : 1;
        socket.write(reply.slice(i, i + size));
        i += size;
        setTimeout(next, 2);
      };
      next();
    });
    expect(await probeFor(`target=127.0.0.1:${target.port}`, String.raw`expect=+PONG\r\n`).execute(never)).toMatchObject({ ok: true });
  });

  it('IPv6 targets in brackets', async (ctx) => {
    let target: TcpServer;
    try {
      target = await serve(echo, '::1');
    } catch {
      ctx.skip('no IPv6 loopback here');
      return;
    }
    expect(await probeFor(`target=[::1]:${target.port}`, 'send=hi', 'expect=hi').execute(never)).toMatchObject({ ok: true });
  });

  it('many executions at once each get their own connection and all succeed', async () => {
    const target = await serve(echo);
    const probe = probeFor(`target=127.0.0.1:${target.port}`, 'send=ping', 'expect=ping');
    const results = await Promise.all(Array.from({ length: 50 }, () => probe.execute(never)));
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(target.accepted()).toBe(50);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });
});

describe('tcp probe: failure reasons', () => {
  it('refused: a port bound, then closed', async () => {
    const target = await serve(silent);
    await new Promise((resolve) => target.server.close(resolve));
    const result = await probeFor(`target=127.0.0.1:${target.port}`).execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'refused' });
    expect(result.latencyMs).toBeLessThan(500);
  });

  it('timeout: the server accepts but never answers, on time', async () => {
    const target = await serve(silent);
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'send=ping', 'expect=pong', 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(295);
    expect(result.latencyMs).toBeLessThan(600);
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
  });

  it('timeout: a connect that hangs', async () => {
    const target = await startHangingConnectTarget();
    cleanupLater.push(target.close);
    expect(await connectHangs(target.port, 300), 'precondition: a connect to a full accept queue hangs on loopback').toBe(true);
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'timeout=300ms').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(295);
    expect(result.latencyMs).toBeLessThan(600);
  });

  it('reset: the server resets the connection (RST) when the request arrives', async () => {
    const target = await serve((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'send=ping', 'expect=pong', 'timeout=5s').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'reset' });
    expect(result.latencyMs).toBeLessThan(1_000);
  });

  it('reset: the server closes (FIN) without a word before the expected reply', async () => {
    const target = await serve((socket) => socket.once('data', () => socket.end()));
    expect(await probeFor(`target=127.0.0.1:${target.port}`, 'send=ping', 'expect=pong', 'timeout=5s').execute(never)).toMatchObject({
      ok: false,
      reason: 'reset',
    });
  });

  it('mismatch: the server answers something else and closes', async () => {
    const target = await serve((socket) => socket.once('data', () => socket.end('-ERR nope\r\n')));
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'send=ping', 'expect=pong', 'timeout=5s').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(result.latencyMs).toBeLessThan(1_000);
  });

  it('mismatch: 64 KiB read without the expected bytes, before the timeout, even if they come later', async () => {
    const target = await serve((socket) => {
      socket.write(Buffer.alloc(64 * 1024, 'x'));
      setTimeout(() => socket.write('pong'), 50);
    });
    const started = performance.now();
    const result = await probeFor(`target=127.0.0.1:${target.port}`, 'expect=pong', 'timeout=5s').execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('expected bytes ending exactly at 64 KiB still match', async () => {
    const target = await serve((socket) => socket.write(Buffer.concat([Buffer.alloc(64 * 1024 - 4, 'x'), Buffer.from('pong')])));
    expect(await probeFor(`target=127.0.0.1:${target.port}`, 'expect=pong', 'timeout=5s').execute(never)).toMatchObject({ ok: true });
  });

  it('aborted: a stop ends executions waiting for a reply at once', async () => {
    const target = await serve(silent);
    const probe = probeFor(`target=127.0.0.1:${target.port}`, 'expect=pong', 'timeout=60s');
    const stop = new AbortController();
    const pending = [probe.execute(stop.signal), probe.execute(stop.signal), probe.execute(stop.signal)];
    await vi.waitFor(() => expect(target.accepted()).toBe(3), { timeout: 2_000 });
    const stoppedAt = performance.now();
    stop.abort();
    const results = await Promise.all(pending);
    expect(performance.now() - stoppedAt).toBeLessThan(100);
    for (const r of results) expect(r).toMatchObject({ ok: false, reason: 'aborted' });
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(await probe.execute(stop.signal)).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
  });

  it('aborted: a stop ends a connect that hangs at once', async () => {
    const target = await startHangingConnectTarget();
    cleanupLater.push(target.close);
    const probe = probeFor(`target=127.0.0.1:${target.port}`, 'timeout=60s');
    const stop = new AbortController();
    const pending = probe.execute(stop.signal);
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    const stoppedAt = performance.now();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(performance.now() - stoppedAt).toBeLessThan(100);
  });

  it('dns: a name that does not resolve (asked of a DNS server of ours, NXDOMAIN)', async () => {
    const { probe, queries } = await probeWithDns('nxdomain', '', 'target=canihaz-tcp-test.invalid:80', 'timeout=3s');
    const result = await probe.execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.latencyMs).toBeLessThan(1_000);
    expect(queries).toContain('canihaz-tcp-test.invalid');
  });

  it('a name that resolves is connected to; it is asked once for many executions', async () => {
    const target = await serve(echo);
    const { probe, queries } = await probeWithDns({ a: '127.0.0.1' }, '', `target=target.example.test:${target.port}`, 'send=x', 'expect=x');
    const results = await Promise.all(Array.from({ length: 5 }, () => probe.execute(never)));
    expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(queries).toEqual(['target.example.test']);
  });

  it('a name in the hosts file is not asked of DNS', async () => {
    const target = await serve(silent);
    const { probe, queries } = await probeWithDns('silent', '127.0.0.1 db.example.test\n', `target=db.example.test:${target.port}`);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(queries).toEqual([]);
  });
});

describe('tcp probe: close', () => {
  it('close() ends executions in flight at once and closes their sockets; later executions fail without connecting', async () => {
    const target = await serve(silent);
    const probe = probeFor(`target=127.0.0.1:${target.port}`, 'expect=pong', 'timeout=60s');
    const pending = [probe.execute(never), probe.execute(never)];
    await vi.waitFor(() => expect(target.accepted()).toBe(2), { timeout: 2_000 });
    const closedAt = performance.now();
    await probe.close();
    const results = await Promise.all(pending);
    expect(performance.now() - closedAt).toBeLessThan(100);
    for (const r of results) expect(r).toMatchObject({ ok: false, reason: 'other' });
    await vi.waitFor(() => expect(target.open()).toBe(0), { timeout: 2_000 });
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'other' });
    expect(target.accepted()).toBe(2);
  });

  it('close() cancels a lookup waiting on a silent DNS server at once', async () => {
    const { probe, queries } = await probeWithDns('silent', '', 'target=slow.example.test:80', 'timeout=60s');
    const pending = probe.execute(never);
    await vi.waitFor(() => expect(queries.length).toBeGreaterThan(0), { timeout: 2_000 });
    const closedAt = performance.now();
    await probe.close();
    expect(await pending).toMatchObject({ ok: false, reason: 'other' });
    expect(performance.now() - closedAt).toBeLessThan(100);
  });
});

/** Runs in a child node process on the built probe: one execution waiting on a silent server, then close(), then nothing. */
const CHILD = `
import { systemClock } from '../../dist/clock.js';
import { silentLogger } from '../../dist/log.js';
import { tcpProbeType } from '../../dist/probes/tcp.js';
const parsed = tcpProbeType.parse(new Map([['target', ['127.0.0.1:' + process.argv[1]]], ['expect', ['never']], ['timeout', ['60s']]]));
const probe = tcpProbeType.create(parsed.options, { clock: systemClock, logger: silentLogger, test: 'child' });
const pending = probe.execute(new AbortController().signal);
process.stdin.once('data', async () => {
  await probe.close();
  console.log(JSON.stringify(await pending));
  process.stdin.destroy();
});
`;

describe('tcp probe: nothing holds the process after close()', () => {
  it('a process whose execution waits on a silent server (timeout 60 s) exits by itself at once after close()', async () => {
    const target = await serve(silent);
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, String(target.port)], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await vi.waitFor(() => expect(target.accepted()).toBe(1), { timeout: 5_000 });
    const closedAt = performance.now();
    child.stdin.write('close\n');
    const [code, signal] = await exited;
    clearTimeout(killer);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(performance.now() - closedAt).toBeLessThan(1_000);
    expect(JSON.parse(out)).toMatchObject({ ok: false, reason: 'other' });
  });
});
