import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { createGraphiteSink, ENQUEUE_SLICE_TESTS, type GraphiteSink, type GraphiteSinkOptions } from '../../src/metrics/graphite.js';
import { LATENCY_BUCKET_NAMES, type MetricEvent } from '../../src/events.js';
import { driveToDeadline, driveUntil, FakeClock, settleOn, watch, type DeadlineOutcome } from '../support/fake-clock.js';
import { freePort, startGraphite, waitUntil, type GraphiteListener } from '../support/listeners.js';

/*
 * Every sink here runs on a FakeClock (a new one per test, starting on a whole second): its interval
 * boundaries, reconnect backoff, warning limits and stop deadline move only when the test advances
 * it, while its sockets and the listeners stay real. Events use ticks on whole seconds of that
 * clock, so intervals never share a timestamp.
 */
const INTERVAL_MS = 200;
/** The lines of an interval with one completed execution: count, 5 outcomes, 5 latency figures, 14 `latency.le_*` counters. */
const LINES = 11 + LATENCY_BUCKET_NAMES.length;
const P = 'canihaz.web-1';
let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock();
});

/** Real milliseconds `fn` takes. */
async function realMs(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Stops `sink` with a deadline `deadlineMs` ahead on the clock, driving the clock to it (see `driveToDeadline`). */
function stopBy(sink: GraphiteSink, deadlineMs: number): Promise<DeadlineOutcome<void>> {
  return driveToDeadline(clock, sink.stop(clock.now() + deadlineMs), clock.now() + deadlineMs);
}

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

function sinkTo(port: number, extra: Partial<GraphiteSinkOptions> = {}): GraphiteSink {
  const sink = createGraphiteSink({
    destination: { kind: 'graphite', host: '127.0.0.1', port },
    prefix: P,
    clock,
    logger: capturingLogger(),
    intervalMs: INTERVAL_MS,
    ...extra,
  });
  const own = clock;
  cleanups.push(async () => void (await settleOn(own, sink.stop(own.now() + 500))));
  return sink;
}

/** A whole second `secondsAgo` before the clock's now, epoch ms. */
function secondAgo(secondsAgo: number): number {
  return Math.floor(clock.wallNow() / 1000) * 1000 - secondsAgo * 1000;
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
    const agentWall = clock.wallNow();
    await clock.advance(INTERVAL_MS);
    await listener.waitFor(() => listener.points.length >= LINES + 1);
    expect(listener.malformed).toEqual([]);
    const at = (path: string) => listener.valueAt(`${P}.home.${path}`, ts);
    expect([at('count'), at('ok'), at('failed'), at('dropped'), at('missed'), at('aborted')]).toEqual([3, 2, 1, 1, 4, 1]);
    expect(at('latency.max')).toBe(1000);
    expect(at('latency.mean')).toBeCloseTo(1004 / 3, 2);
    expect(Math.abs(at('latency.p50')! - 2.5) / 2.5).toBeLessThan(0.01);
    expect(at('latency.p90')).toBe(1000);
    expect(at('latency.p99')).toBe(1000);
    // Cumulative bucket counters of the completed executions (1.5, 2.5 and the failed 1000 ms; not the aborted one).
    expect(LATENCY_BUCKET_NAMES.map((name) => [name, at(name)])).toEqual(
      ['le_1', 'le_2', 'le_5', 'le_10', 'le_25', 'le_50', 'le_100', 'le_250', 'le_500', 'le_1000', 'le_2500', 'le_5000', 'le_10000', 'le_inf'].map((b, i) => [
        `latency.${b}`,
        [0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3][i],
      ]),
    );
    // The agent counter is filed at the time it was recorded, and sent once that interval ends.
    const agent = listener.points.find((p) => p.path === `${P}.agent.skipped`);
    expect(agent?.value).toBe(2);
    expect(agent!.timestamp).toBe(Math.floor(agentWall / 1000));
    // Nothing changed since: two more boundaries pass, then a marker interval is sent on the same
    // connection; whatever was re-sent in between would have arrived before it.
    await clock.advance(2 * INTERVAL_MS);
    sink.record(ok(clock.wallNow(), 1, 'marker'));
    await clock.advance(INTERVAL_MS);
    await listener.waitFor(() => listener.points.length >= 2 * LINES + 1);
    expect(listener.points.slice(LINES + 1).map((p) => p.path.split('.')[2])).toEqual(Array(LINES).fill('marker'));
    expect(listener.points.length).toBe(2 * LINES + 1);
    expect(listener.connections).toBe(1);
  });

  it('queues a boundary of many tests a slice per event-loop turn, and every line of every test arrives once', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    await sink.start();
    await clock.advance(37);
    const tests = 2 * ENQUEUE_SLICE_TESTS + 30;
    const at = clock.wallNow();
    for (let i = 0; i < tests; i++) sink.record(ok(at, 1, `t${i}`));
    const intervalEnd = Math.floor(at / INTERVAL_MS) * INTERVAL_MS + INTERVAL_MS;
    await clock.jump(intervalEnd - clock.wallNow());
    // The boundary's timer queued one slice; the rest follow on later turns.
    expect(sink.queuedLines).toBeLessThanOrEqual(ENQUEUE_SLICE_TESTS * LINES);
    await listener.waitFor(() => listener.points.length >= tests * LINES);
    const counts = listener.points.filter((p) => p.path.endsWith('.count'));
    expect(counts).toHaveLength(tests);
    expect(new Set(counts.map((p) => p.path)).size).toBe(tests);
  });

  it('sends the current interval only once it has ended', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    await sink.start();
    await clock.advance(37); // record mid-interval
    const recordedAt = clock.wallNow();
    sink.record(ok(recordedAt, 1));
    const intervalEnd = Math.floor(recordedAt / INTERVAL_MS) * INTERVAL_MS + INTERVAL_MS;
    // Until the interval has ended nothing is taken from it (lines queued or in flight count).
    await clock.advance(intervalEnd - 1 - clock.wallNow());
    expect(sink.queuedLines).toBe(0);
    await clock.advance(1);
    await listener.waitFor(() => listener.points.length >= 1);
    expect(clock.wallNow()).toBeGreaterThanOrEqual(intervalEnd);
    expect(listener.points[0]?.timestamp).toBe(Math.floor(Math.floor(recordedAt / INTERVAL_MS) * INTERVAL_MS / 1000));
  });

  it('re-sends an interval with its final figures after a late completion', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port);
    const t = secondAgo(5);
    await sink.start();
    sink.record(ok(t, 1));
    sink.record(ok(t, 1));
    await clock.advance(INTERVAL_MS);
    await listener.waitFor(() => listener.valueAt(`${P}.home.count`, t / 1000) === 2);
    sink.record(ok(t + 10, 300)); // its tick was in the interval already sent
    await clock.advance(INTERVAL_MS);
    await listener.waitFor(() => listener.valueAt(`${P}.home.count`, t / 1000) === 3);
    expect(listener.points.filter((p) => p.path === `${P}.home.count`).map((p) => p.value)).toEqual([2, 3]);
    expect(listener.valueAt(`${P}.home.latency.max`, t / 1000)).toBe(300);
    expect(listener.sum(`${P}.home.count`)).toBe(3);
  });

  it('sends the partial interval and returns promptly on stop', async () => {
    const listener = await listen();
    const sink = sinkTo(listener.port, { intervalMs: 10_000 });
    await sink.start();
    sink.record(ok(clock.wallNow(), 1));
    sink.recordAgent({ name: 'skipped', value: 1 });
    const started = clock.now();
    // No boundary passes: the stop itself sends, and returns once sent, without its deadline.
    expect(await realMs(() => sink.stop(started + 2_000))).toBeLessThan(500);
    expect(clock.now()).toBe(started);
    await listener.waitFor(() => listener.points.length >= LINES + 1);
    expect(listener.sum(`${P}.home.count`)).toBe(1);
    expect(listener.sum(`${P}.agent.skipped`)).toBe(1);
    sink.record(ok(clock.wallNow(), 1)); // ignored after stop, does not throw
    expect(sink.queuedLines).toBe(0);
  });

  it('speaks to an IPv6 host', async () => {
    const listener = await listen({ host: '::1' });
    const sink = createGraphiteSink({ destination: { kind: 'graphite', host: '::1', port: listener.port }, prefix: P, clock, logger: capturingLogger() });
    expect(sink.name).toBe(`graphite://[::1]:${listener.port}`);
    await sink.start();
    sink.record(ok(secondAgo(1), 1));
    await settleOn(clock, sink.stop(clock.now() + 2_000));
    await listener.waitFor(() => listener.points.length >= LINES);
    expect(listener.sum(`${P}.home.ok`)).toBe(1);
  });

  it('queues while the server is down, reconnects when it comes up, and again after it restarts', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger });
    const t1 = secondAgo(4);
    await sink.start();
    sink.record(ok(t1, 1));
    // Refused at least once, and the interval's lines are queued (at its end, on the sink's clock).
    await driveUntil(clock, () => sink.queuedLines === LINES && logger.warnings.some((w) => w.msg === 'graphite connection failed'), {
      message: 'lines queued while the server is down',
    });
    let listener = await listen({ port });
    // The reconnect comes after its backoff, on the sink's clock.
    await driveUntil(clock, () => listener.points.length >= LINES, { timeoutMs: 4_000, message: 'lines after the reconnect' });
    expect(listener.sum(`${P}.home.ok`)).toBe(1);

    await listener.close(); // the server goes away and comes back on the same port
    listener = await listen({ port });
    // Lines written while the old connection was dying could be lost (plaintext has no acks), so
    // record once the sink has noticed and reconnected.
    await driveUntil(clock, () => listener.connections === 1, { timeoutMs: 4_000, message: 'reconnected after the restart' });
    const t2 = secondAgo(2);
    sink.record(ok(t2, 1));
    sink.record(ok(t2, 1));
    await driveUntil(clock, () => listener.valueAt(`${P}.home.ok`, t2 / 1000) === 2, { timeoutMs: 4_000, message: 'lines after the restart' });
    expect(sink.droppedLines).toBe(0);
  });

  it('drops the oldest lines when the queue is full, counts them and warns once', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger, queueLimit: LINES });
    const seconds = [8, 7, 6, 5, 4].map(secondAgo); // five intervals of LINES lines each
    for (const t of seconds) sink.record(ok(t, 1));
    await sink.start();
    await driveUntil(clock, () => sink.droppedLines >= 4 * LINES, { message: 'droppedLines should reach 4 intervals' });
    expect(sink.droppedLines).toBe(4 * LINES);
    const drops = logger.warnings.filter((w) => w.msg === 'graphite queue full, dropped the oldest lines');
    expect(drops).toEqual([{ msg: 'graphite queue full, dropped the oldest lines', fields: { destination: `graphite://127.0.0.1:${port}`, dropped: 4 * LINES, total_dropped: 4 * LINES } }]);
    const listener = await listen({ port });
    await driveUntil(clock, () => listener.points.length >= LINES, { timeoutMs: 4_000, message: 'lines after the reconnect' });
    // Only the newest interval survived.
    expect(new Set(listener.points.map((p) => p.timestamp))).toEqual(new Set([seconds[4]! / 1000]));
    // And the run's total is said once more at stop.
    await settleOn(clock, sink.stop(clock.now() + 1_000));
    expect(logger.warnings.filter((w) => w.msg === 'graphite lines dropped during the run (queue full)')).toEqual([
      { msg: 'graphite lines dropped during the run (queue full)', fields: { destination: `graphite://127.0.0.1:${port}`, total_dropped: 4 * LINES } },
    ]);
  });

  it('gives up at the stop deadline when the server is down, without throwing', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = sinkTo(port, { logger });
    await sink.start();
    sink.record(ok(secondAgo(1), 1));
    const stop = await stopBy(sink, 300);
    expect(stop.early).toBe(false); // it kept trying until its deadline, on its clock
    expect(stop.realMsAfterDeadline).toBeLessThan(200); // and returned promptly at it
    expect(logger.warnings.find((w) => w.msg === 'graphite lines not sent before the stop deadline')?.fields.lines).toBe(LINES);
  });
});

/**
 * A Graphite that accepts and never reads: each accepted socket is paused, so the kernel buffers
 * fill and then the sink's writes stall. `reading()` makes later connections read (and count lines).
 */
async function stuckGraphite(): Promise<{ port: number; sockets: net.Socket[]; lines: () => number; readFromNowOn(): void; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  let read = false;
  let lines = 0;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    if (!read) {
      socket.pause();
      return;
    }
    socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) lines += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { port: (server.address() as net.AddressInfo).port, sockets, lines: () => lines, readFromNowOn: () => (read = true), close };
}

/**
 * Asserts the event loop is alive: 50 ms timers fire within 250 ms, and (when `idle`: nothing is
 * being sent) CPU stays under half the wall time. A synchronous loop in the sink starves the timers.
 */
async function expectNotSpinning(overMs: number, idle = true): Promise<void> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const lateBy: number[] = [];
  while (performance.now() - wall0 < overMs) {
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    lateBy.push(performance.now() - t - 50);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const wallMs = performance.now() - wall0;
  expect(Math.max(...lateBy), 'a timer was starved').toBeLessThan(200);
  if (idle) expect(cpuMs, `CPU ${cpuMs} ms in ${wallMs} ms of wall time`).toBeLessThan(wallMs / 2);
}

/** `count` tests with a 1 KB prefix: about 25 KB of lines per test per interval. */
function bulkySink(port: number, logger: Logger): GraphiteSink {
  return sinkTo(port, { logger, prefix: 'p'.repeat(1000), intervalMs: 10_000, queueLimit: 1_000_000 });
}

function recordBulk(sink: GraphiteSink, count: number): void {
  const t = secondAgo(1);
  for (let i = 0; i < count; i++) sink.record(ok(t, 1, `t${i}`));
}

describe('graphite sink against a server that accepts and never reads', () => {
  it('A stuck Graphite freezes a copy forever at full CPU: stop returns by its deadline and nothing spins after', async () => {
    const server = await stuckGraphite();
    const logger = capturingLogger();
    const sink = bulkySink(server.port, logger);
    await sink.start();
    recordBulk(sink, 1_000); // ~25 MB of lines: far more than the kernel buffers hold
    await waitUntil(() => server.sockets.length === 1, { message: 'connected' });
    const stop = await stopBy(sink, 300);
    expect(stop.early).toBe(false); // it waited until its deadline, on its clock
    expect(stop.realMsAfterDeadline).toBeLessThan(150); // and returned promptly at it
    await expectNotSpinning(400);
    const unsent = logger.warnings.find((w) => w.msg === 'graphite lines not sent before the stop deadline');
    expect(unsent?.fields.lines).toBeGreaterThan(1_000);
    // What the kernel took was never read: said, not lost without a word.
    const unconfirmed = logger.warnings.find((w) => w.msg === 'graphite lines may not have been delivered: the server did not confirm the close');
    expect(unconfirmed?.fields.lines).toBeGreaterThan(0);
    expect(Number(unsent!.fields.lines) + Number(unconfirmed!.fields.lines)).toBe(1_000 * LINES);
  });

  it('A stuck Graphite freezes a copy forever at full CPU: a connection reset mid-write waits for the reconnect, then delivers', async () => {
    const server = await stuckGraphite();
    const logger = capturingLogger();
    const sink = bulkySink(server.port, logger);
    await sink.start();
    recordBulk(sink, 1_000);
    // The interval is sent at its 10 s boundary or at stop: stop with a long deadline, in the background.
    const deadline = clock.now() + 8_000;
    const stopping = watch(sink.stop(deadline));
    await waitUntil(() => server.sockets.length === 1 && sink.queuedLines > 0 && sink.queuedLines < 1_000 * LINES, { message: 'writes stalled' });
    server.readFromNowOn();
    server.sockets[0]!.destroy(); // unread data: the client sees a reset while a write is pending
    // The reconnect comes after its backoff on the sink's clock: once the sink has seen the loss, the
    // clock moves (never up to the stop deadline) until it has reconnected.
    await waitUntil(() => logger.warnings.some((w) => w.msg === 'graphite connection lost: lines written on it may not have been delivered'), { message: 'loss seen' });
    await driveUntil(clock, () => server.sockets.length === 2, { message: 'reconnected', maxTo: deadline - 1 });
    await expectNotSpinning(300, false); // busy resending (to this very process), but never in a loop
    await stopping.promise;
    expect(clock.now()).toBeLessThan(deadline); // delivered, not given up at the deadline
    expect(server.sockets.length).toBe(2);
    expect(sink.queuedLines).toBe(0);
    // Everything not confirmed by the first connection arrived on the second one.
    expect(server.lines() + sink.unconfirmedLines).toBeGreaterThanOrEqual(1_000 * LINES);
    expect(server.lines()).toBeGreaterThan(0);
    expect(logger.warnings.some((w) => w.msg === 'graphite connection lost: lines written on it may not have been delivered')).toBe(true);
  });

  it('a stop does not wait for a server that has taken nothing for a second', async () => {
    const server = await stuckGraphite();
    const logger = capturingLogger();
    const sink = sinkTo(server.port, { logger, prefix: 'p'.repeat(1000), intervalMs: 1_000, queueLimit: 1_000_000 });
    await sink.start();
    recordBulk(sink, 1_000); // into an interval that ends at the next 1 s boundary, then sent
    await clock.advance(1_000);
    // Stalled: lines sent and lines waiting, and the socket has taken nothing for 100 ms of real time.
    let queued = -1;
    let changedAt = performance.now();
    const stalled = () => {
      if (sink.queuedLines !== queued) [queued, changedAt] = [sink.queuedLines, performance.now()];
      return queued > 0 && queued < 1_000 * LINES && performance.now() - changedAt >= 100;
    };
    await waitUntil(stalled, { message: 'writes stalled', timeoutMs: 3_000 });
    await clock.advance(1_200); // and nothing for more than a second of the sink's clock
    const started = clock.now();
    expect(await realMs(() => sink.stop(started + 2_000))).toBeLessThan(150);
    expect(clock.now()).toBe(started);
    expect(Number(logger.warnings.find((w) => w.msg === 'graphite lines not sent before the stop deadline')?.fields.lines)).toBeGreaterThan(0);
  });

  it('Metrics lost without a word: at small volume, says how many lines the server may never have read', async () => {
    const server = await stuckGraphite();
    const logger = capturingLogger();
    const sink = sinkTo(server.port, { logger });
    await sink.start();
    sink.record(ok(secondAgo(2), 1));
    await waitUntil(() => server.sockets.length === 1, { message: 'connected' });
    const stop = await stopBy(sink, 300);
    expect(stop.realMsAfterDeadline).toBeLessThan(150); // by its deadline, on its clock
    expect(logger.warnings.find((w) => w.msg === 'graphite lines may not have been delivered: the server did not confirm the close')?.fields.lines).toBe(LINES);
    expect(logger.warnings.find((w) => w.msg === 'graphite lines not sent before the stop deadline')).toBeUndefined();
  });

  it('a server that reads confirms the close: no warning', async () => {
    const listener = await listen();
    const logger = capturingLogger();
    const sink = sinkTo(listener.port, { logger });
    await sink.start();
    sink.record(ok(secondAgo(2), 1));
    await settleOn(clock, sink.stop(clock.now() + 1_000));
    await listener.waitFor(() => listener.points.length >= LINES);
    expect(logger.warnings).toEqual([]);
    expect(sink.unconfirmedLines).toBe(0);
  });
});
