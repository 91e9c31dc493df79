import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { createGraphiteSink, type GraphiteSink, type GraphiteSinkOptions } from '../../src/metrics/graphite.js';
import type { MetricEvent } from '../../src/metrics/sink.js';
import { freePort, startGraphite, waitUntil, type GraphiteListener } from '../support/listeners.js';

/** Short intervals keep the tests fast; events use ticks on whole seconds so intervals never share a timestamp. */
const INTERVAL_MS = 200;
const P = 'canihaz.web-1';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Newest first: sinks stop (and flush) before the listeners they send to close.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(options: { port?: number; host?: string } = {}): Promise<GraphiteListener> {
  const listener = await startGraphite(options);
  cleanups.push(() => listener.close());
  return listener;
}

function capturingLogger(): Logger & { warnings: { msg: string; fields: Record<string, unknown> }[] } {
  const warnings: { msg: string; fields: Record<string, unknown> }[] = [];
  return { ...silentLogger, warnings, warn: (msg, fields = {}) => void warnings.push({ msg, fields }) };
}

function sinkTo(port: number, extra: Partial<GraphiteSinkOptions> = {}): GraphiteSink {
  const sink = createGraphiteSink({
    destination: { kind: 'graphite', host: '127.0.0.1', port },
    prefix: P,
    clock: systemClock,
    logger: capturingLogger(),
    intervalMs: INTERVAL_MS,
    ...extra,
  });
  cleanups.push(() => sink.stop(systemClock.now() + 500));
  return sink;
}

/** A whole second `secondsAgo` before now, epoch ms. */
function secondAgo(secondsAgo: number): number {
  return Math.floor(Date.now() / 1000) * 1000 - secondsAgo * 1000;
}

const ok = (tickWallMs: number, latencyMs: number, test = 'home'): MetricEvent => ({ kind: 'execution', test, tickWallMs, ok: true, latencyMs, lagMs: 0 });

describe('graphite sink', () => {
  it('sends each ended interval once, stamped with its start, with counts and latency', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    expect(sink.name).toBe(`graphite://127.0.0.1:${listener.port}`);
    const t = secondAgo(3);
    const ts = t / 1000;
    await sink.start();
    sink.record(ok(t, 1.5));
    sink.record(ok(t + 1, 2.5));
    sink.record({ kind: 'execution', test: 'home', tickWallMs: t + 2, ok: false, reason: 'timeout', latencyMs: 1000, lagMs: 0 });
    sink.record({ kind: 'dropped', test: 'home', tickWallMs: t + 3 });
    sink.record({ kind: 'missed', test: 'home', tickWallMs: t + 4, count: 4 });
    sink.record({ kind: 'aborted', test: 'home', tickWallMs: t + 5, latencyMs: 7 });
    sink.recordAgent({ name: 'skipped', value: 2 });
    await listener.waitFor(() => listener.points.length >= 12);
    expect(listener.malformed).toEqual([]);
    const at = (path: string) => listener.valueAt(`${P}.home.${path}`, ts);
    expect([at('count'), at('ok'), at('failed'), at('dropped'), at('missed'), at('aborted')]).toEqual([3, 2, 1, 1, 4, 1]);
    expect(at('latency.max')).toBe(1000);
    expect(at('latency.mean')).toBeCloseTo(1004 / 3, 2);
    expect(Math.abs(at('latency.p50')! - 2.5) / 2.5).toBeLessThan(0.01);
    expect(at('latency.p90')).toBe(1000);
    expect(at('latency.p99')).toBe(1000);
    // The agent counter is filed at the time it was recorded, and sent once that interval ends.
    const agent = listener.points.find((p) => p.path === `${P}.agent.skipped`);
    expect(agent?.value).toBe(2);
    expect(Math.abs(agent!.timestamp * 1000 - Date.now())).toBeLessThan(2_000);
    // Nothing changed since: wait for two more boundaries and check nothing was re-sent.
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS + 50));
    expect(listener.points.length).toBe(12);
    expect(listener.connections).toBe(1);
  });

  it('sends the current interval only once it has ended', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    await sink.start();
    const recordedAt = Date.now();
    sink.record(ok(recordedAt, 1));
    await listener.waitFor(() => listener.points.length >= 1);
    const intervalEnd = Math.floor(recordedAt / INTERVAL_MS) * INTERVAL_MS + INTERVAL_MS;
    expect(Date.now()).toBeGreaterThanOrEqual(intervalEnd);
    expect(listener.points[0]?.timestamp).toBe(Math.floor(Math.floor(recordedAt / INTERVAL_MS) * INTERVAL_MS / 1000));
  });

  it('re-sends an interval with its final figures after a late completion', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    const t = secondAgo(5);
    await sink.start();
    sink.record(ok(t, 1));
    sink.record(ok(t, 1));
    await listener.waitFor(() => listener.valueAt(`${P}.home.count`, t / 1000) === 2);
    sink.record(ok(t + 10, 300)); // its tick was in the interval already sent
    await listener.waitFor(() => listener.valueAt(`${P}.home.count`, t / 1000) === 3);
    expect(listener.points.filter((p) => p.path === `${P}.home.count`).map((p) => p.value)).toEqual([2, 3]);
    expect(listener.valueAt(`${P}.home.latency.max`, t / 1000)).toBe(300);
    expect(listener.sum(`${P}.home.count`)).toBe(3);
  });

  it('sends the partial interval and returns promptly on stop', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port, { intervalMs: 10_000 });
    await sink.start();
    sink.record(ok(Date.now(), 1));
    sink.recordAgent({ name: 'skipped', value: 1 });
    const started = systemClock.now();
    await sink.stop(started + 2_000);
    expect(systemClock.now() - started).toBeLessThan(500);
    await listener.waitFor(() => listener.points.length >= 12);
    expect(listener.sum(`${P}.home.count`)).toBe(1);
    expect(listener.sum(`${P}.agent.skipped`)).toBe(1);
    sink.record(ok(Date.now(), 1)); // ignored after stop, does not throw
    expect(sink.queuedLines).toBe(0);
  });

  it('speaks to an IPv6 host', async () => {
    const listener = await listen({ host: '::1' });
    const sink = createGraphiteSink({ destination: { kind: 'graphite', host: '::1', port: listener.port }, prefix: P, clock: systemClock, logger: capturingLogger() });
    expect(sink.name).toBe(`graphite://[::1]:${listener.port}`);
    await sink.start();
    sink.record(ok(secondAgo(1), 1));
    await sink.stop(systemClock.now() + 2_000);
    await listener.waitFor(() => listener.points.length >= 11);
    expect(listener.sum(`${P}.home.ok`)).toBe(1);
  });

  it('queues while the server is down, reconnects when it comes up, and again after it restarts', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger });
    const t1 = secondAgo(4);
    await sink.start();
    sink.record(ok(t1, 1));
    // Refused at least once, and the interval's lines are queued.
    await waitUntil(() => sink.queuedLines === 11 && logger.warnings.some((w) => w.msg === 'graphite connection failed'), {
      message: 'lines queued while the server is down',
    });
    let listener = await listen({ port });
    await listener.waitFor(() => listener.points.length >= 11, { timeoutMs: 4_000 });
    expect(listener.sum(`${P}.home.ok`)).toBe(1);

    await listener.close(); // the server goes away and comes back on the same port
    listener = await listen({ port });
    // Lines written while the old connection was dying could be lost (plaintext has no acks), so
    // record once the sink has noticed and reconnected.
    await listener.waitFor(() => listener.connections === 1, { timeoutMs: 4_000 });
    const t2 = secondAgo(2);
    sink.record(ok(t2, 1));
    sink.record(ok(t2, 1));
    await listener.waitFor(() => listener.valueAt(`${P}.home.ok`, t2 / 1000) === 2, { timeoutMs: 4_000 });
    expect(sink.droppedLines).toBe(0);
  });

  it('drops the oldest lines when the queue is full, counts them and warns once', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger, queueLimit: 11 });
    const seconds = [8, 7, 6, 5, 4].map(secondAgo); // five intervals of 11 lines each
    for (const t of seconds) sink.record(ok(t, 1));
    await sink.start();
    await waitUntil(() => sink.droppedLines === 44, { message: `droppedLines should reach 44` }, () => String(sink.droppedLines));
    const drops = logger.warnings.filter((w) => w.msg === 'graphite queue full, dropped the oldest lines');
    expect(drops).toEqual([{ msg: 'graphite queue full, dropped the oldest lines', fields: { destination: `graphite://127.0.0.1:${port}`, dropped: 44, total_dropped: 44 } }]);
    const listener = await listen({ port });
    await listener.waitFor(() => listener.points.length >= 11, { timeoutMs: 4_000 });
    // Only the newest interval survived.
    expect(new Set(listener.points.map((p) => p.timestamp))).toEqual(new Set([seconds[4]! / 1000]));
  });

  it('gives up at the stop deadline when the server is down, without throwing', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger });
    await sink.start();
    sink.record(ok(secondAgo(1), 1));
    const started = systemClock.now();
    await sink.stop(started + 300);
    const took = systemClock.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(500);
    expect(logger.warnings.find((w) => w.msg === 'graphite lines not sent before the stop deadline')?.fields.lines).toBe(11);
  });
});
