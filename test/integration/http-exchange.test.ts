/**
 * The http probe's dispatch handler (http-exchange.ts) and its shared timeout sweep
 * (inflight-list.ts) against real servers on port 0: the probe's own timeouts on the fake clock.
 */
import { getEventListeners, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { httpProbeType } from '../../src/probes/http.js';
import type { Probe } from '../../src/probes/probe.js';
import { FakeClock } from '../support/fake-clock.js';

const servers: Server[] = [];
const probes: Probe[] = [];

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

/** A real server on 127.0.0.1; counts connections accepted and closed. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  const stats = { opened: 0, closed: 0 };
  server.on('connection', (socket: Socket) => {
    stats.opened++;
    socket.on('close', () => stats.closed++);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
}

function probeFor(clock: Clock, ...fields: string[]): Probe {
  const params = new Map(fields.map((f) => [f.slice(0, f.indexOf('=')), [f.slice(f.indexOf('=') + 1)]]));
  const parsed = httpProbeType.parse(params);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const probe = httpProbeType.create(parsed.options, { clock, logger: silentLogger, test: 'exchange-test' });
  probes.push(probe);
  return probe;
}

const never = new AbortController().signal;

describe('http executions as dispatch handlers', () => {
  it('many executions in flight share one timeout timer, and all time out on time (fake clock)', async () => {
    const { origin, stats } = await serve(() => {});
    const clock = new FakeClock();
    const probe = probeFor(clock, `url=${origin}/`, 'timeout=10s');
    const pending = Array.from({ length: 20 }, () => probe.execute(never));
    await vi.waitFor(() => expect(stats.opened).toBe(20));
    expect(clock.pending).toBe(1);
    await clock.advance(9_999);
    const settled = await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(() => r('pending'), 20))]);
    expect(settled).toBe('pending');
    await clock.advance(1);
    const results = await Promise.all(pending);
    for (const r of results) expect(r).toEqual({ ok: false, latencyMs: 10_000, reason: 'timeout' });
    // A timed-out request's connection is destroyed: it may still receive its late response.
    await vi.waitFor(() => expect(stats.closed).toBe(20));
    expect(clock.pending).toBe(0);
  });

  it('a body that stalls half-way is a timeout, and its connection is closed (fake clock)', async () => {
    const { origin, stats } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    });
    const clock = new FakeClock();
    const probe = probeFor(clock, `url=${origin}/`, 'timeout=5s');
    const pending = probe.execute(never);
    await vi.waitFor(() => expect(stats.opened).toBe(1));
    await new Promise((r) => setTimeout(r, 20));
    await clock.advance(5_000);
    expect(await pending).toEqual({ ok: false, latencyMs: 5_000, reason: 'timeout' });
    await vi.waitFor(() => expect(stats.closed).toBe(1));
  });

  it('a stop aborts every execution in flight at once, behind one listener on the signal', async () => {
    const { origin, stats } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const probe = probeFor(systemClock, `url=${origin}/`, 'timeout=10s');
    const stop = new AbortController();
    const pending = Array.from({ length: 10 }, () => probe.execute(stop.signal));
    await vi.waitFor(() => expect(stats.opened).toBe(10));
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);
    stop.abort();
    for (const r of await Promise.all(pending)) expect(r).toMatchObject({ ok: false, reason: 'aborted' });
    await vi.waitFor(() => expect(stats.closed).toBe(10));
  });

  it('reads the whole body before it settles, and reuses the connection for the next execution', async () => {
    const { origin, stats } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '6' });
      res.write('abc');
      setTimeout(() => res.end('def'), 60);
    });
    const probe = probeFor(systemClock, `url=${origin}/`);
    const first = await probe.execute(never);
    expect(first).toMatchObject({ ok: true });
    expect(first.latencyMs).toBeGreaterThanOrEqual(55);
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(stats.opened).toBe(1);
  });

  it('a reset in the middle of the body is `reset`', async () => {
    const { origin } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => setTimeout(() => res.socket?.resetAndDestroy(), 10));
    });
    expect(await probeFor(systemClock, `url=${origin}/`).execute(never)).toMatchObject({ ok: false, reason: 'reset' });
  });

  it('an informational 1xx before the final status counts the final status', async () => {
    const { origin } = await serve((_req, res) => {
      res.writeProcessing();
      res.statusCode = 204;
      res.end();
    });
    const probe = probeFor(systemClock, `url=${origin}/`, 'expect=204');
    expect(await probe.execute(never)).toMatchObject({ ok: true });
  });
});
