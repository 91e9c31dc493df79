import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { MetricEvent, MetricSink } from '../../src/metrics/sink.js';
import { createStatsdSink } from '../../src/metrics/statsd.js';
import { freePort, startTcpStatsd, startUdpStatsd, type StatsdListener } from '../support/listeners.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Newest first: sinks stop (and flush) before the listeners they send to close.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { close(): Promise<void> }>(listener: T): T {
  cleanups.push(() => listener.close());
  return listener;
}

function trackSink(sink: MetricSink): MetricSink {
  cleanups.push(() => sink.stop(systemClock.now() + 500));
  return sink;
}

/** A logger that keeps its warnings. */
function capturingLogger(): Logger & { warnings: { msg: string; fields: Record<string, unknown> }[] } {
  const warnings: { msg: string; fields: Record<string, unknown> }[] = [];
  return { ...silentLogger, warnings, warn: (msg, fields = {}) => void warnings.push({ msg, fields }) };
}

const tick = Date.UTC(2026, 10, 22, 12, 0, 0);
const events: MetricEvent[] = [
  { kind: 'execution', test: 'home', tickWallMs: tick, ok: true, latencyMs: 1.25, lagMs: 0.5 },
  { kind: 'execution', test: 'home', tickWallMs: tick, ok: true, latencyMs: 2.5, lagMs: 0.25 },
  { kind: 'execution', test: 'home', tickWallMs: tick, ok: false, reason: 'timeout', latencyMs: 1000, lagMs: 1 },
  { kind: 'dropped', test: 'home', tickWallMs: tick },
  { kind: 'missed', test: 'home', tickWallMs: tick, count: 4 },
  { kind: 'aborted', test: 'home', tickWallMs: tick, latencyMs: 12 },
];

/** Checks the lines `events` (plus one agent counter) produce under prefix `canihaz`. */
function expectEventLines(listener: StatsdListener): void {
  expect(listener.malformed).toEqual([]);
  const byName = (name: string) => listener.linesOf(name).map((l) => `${l.value}|${l.type}`);
  expect(byName('canihaz.home.ok')).toEqual(['1|c', '1|c']);
  expect(byName('canihaz.home.failed')).toEqual(['1|c']);
  expect(byName('canihaz.home.failed.timeout')).toEqual(['1|c']);
  expect(byName('canihaz.home.latency')).toEqual(['1.25|ms', '2.5|ms', '1000|ms']);
  expect(byName('canihaz.home.lag')).toEqual(['0.5|ms', '0.25|ms', '1|ms']);
  expect(byName('canihaz.home.dropped')).toEqual(['1|c']);
  expect(byName('canihaz.home.missed')).toEqual(['4|c']);
  expect(byName('canihaz.home.aborted')).toEqual(['1|c']);
  expect(byName('canihaz.agent.skipped')).toEqual(['1|c']);
  expect(listener.lines.length).toBe(14);
}

describe('statsd sink over UDP', () => {
  it('sends counters and timers for every event, batched into few packets', async () => {
    const listener = track(await startUdpStatsd());
    const sink = trackSink(createStatsdSink({ destination: { kind: 'statsd', protocol: 'udp', host: '127.0.0.1', port: listener.port }, prefix: 'canihaz', logger: capturingLogger() }));
    expect(sink.name).toBe(`statsd://127.0.0.1:${listener.port}`);
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    await listener.waitFor(() => listener.lines.length >= 14);
    expectEventLines(listener);
    expect(listener.packets).toBeLessThanOrEqual(2);
  });

  it('flushes what is buffered when stopped', async () => {
    const listener = track(await startUdpStatsd());
    const sink = createStatsdSink({ destination: { kind: 'statsd', protocol: 'udp', host: '127.0.0.1', port: listener.port }, prefix: 'canihaz', logger: capturingLogger() });
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    const started = systemClock.now();
    await sink.stop(started + 2_000);
    expect(systemClock.now() - started).toBeLessThan(1_500);
    await listener.waitFor(() => listener.lines.length >= 14);
    expectEventLines(listener);
    sink.record(events[0]!); // ignored after stop, and does not throw
  });

  it('accepts events before start() and sends to an IPv6 host', async () => {
    const listener = track(await startUdpStatsd({ host: '::1' }));
    const sink = trackSink(createStatsdSink({ destination: { kind: 'statsd', protocol: 'udp', host: '::1', port: listener.port }, prefix: 'canihaz', logger: capturingLogger() }));
    sink.record(events[0]!);
    await sink.start();
    await listener.waitFor(() => listener.lines.length >= 3);
    expect(listener.lines.map((l) => l.name)).toEqual(['canihaz.home.ok', 'canihaz.home.latency', 'canihaz.home.lag']);
  });
  it('resolves a hostname', async () => {
    const listener = track(await startUdpStatsd());
    const sink = trackSink(createStatsdSink({ destination: { kind: 'statsd', protocol: 'udp', host: 'localhost', port: listener.port }, prefix: 'canihaz', logger: capturingLogger() }));
    await sink.start();
    sink.record(events[3]!);
    await listener.waitFor(() => listener.lines.length >= 1);
    expect(listener.lines.map((l) => l.raw)).toEqual(['canihaz.home.dropped:1|c']);
  });
});

describe('statsd sink over TCP', () => {
  it('sends the same lines over a TCP stream', async () => {
    const listener = track(await startTcpStatsd());
    const sink = trackSink(createStatsdSink({ destination: { kind: 'statsd', protocol: 'tcp', host: '127.0.0.1', port: listener.port }, prefix: 'canihaz', logger: capturingLogger() }));
    expect(sink.name).toBe(`statsd+tcp://127.0.0.1:${listener.port}`);
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    await listener.waitFor(() => listener.lines.length >= 14);
    expectEventLines(listener);
  });

  it('survives a server that is down: no unhandled error, one warning, stop by the deadline', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const sink = createStatsdSink({ destination: { kind: 'statsd', protocol: 'tcp', host: '127.0.0.1', port }, prefix: 'canihaz', logger });
    await sink.start();
    for (let i = 0; i < 5; i++) {
      for (const e of events) sink.record(e);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const started = systemClock.now();
    await sink.stop(started + 400);
    expect(systemClock.now() - started).toBeLessThan(600);
    expect(logger.warnings.length).toBe(1);
    expect(logger.warnings[0]).toMatchObject({ msg: 'statsd send failed', fields: { destination: `statsd+tcp://127.0.0.1:${port}` } });
  });

  it('reconnects when a server that was down comes up, and again after it restarts', async () => {
    const port = await freePort();
    const sink = trackSink(createStatsdSink({ destination: { kind: 'statsd', protocol: 'tcp', host: '127.0.0.1', port }, prefix: 'canihaz', logger: capturingLogger() }));
    await sink.start();
    sink.record(events[0]!);
    await new Promise((resolve) => setTimeout(resolve, 300)); // refused at least once
    // Keep recording (as a running agent would) until lines arrive through a new connection.
    const feed = async (listener: StatsdListener) => {
      const feeder = setInterval(() => sink.record(events[0]!), 50);
      try {
        await listener.waitFor(() => listener.lines.length >= 3, { timeoutMs: 4_000 });
      } finally {
        clearInterval(feeder);
      }
      expect(listener.malformed).toEqual([]);
      expect(listener.lines[0]?.name).toMatch(/^canihaz\.home\.(ok|latency|lag)$/);
    };
    const first = track(await startTcpStatsd({ port }));
    await feed(first);
    await first.close(); // the server closes the connection and comes back
    const second = track(await startTcpStatsd({ port }));
    await feed(second);
    // The replaced client is healthy: stop flushes and returns well before the deadline.
    const started = systemClock.now();
    await sink.stop(started + 2_000);
    expect(systemClock.now() - started).toBeLessThan(1_000);
  });
});
