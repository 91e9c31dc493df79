import dgram from 'node:dgram';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { capturingLogger } from '../support/capturing-logger.js';
import { LATENCY_BUCKET_NAMES, type MetricEvent } from '../../src/events.js';
import type { MetricSink } from '../../src/metrics/sink.js';
import { createHostResolver, type HostResolver } from '../../src/net/resolve.js';
import { createStatsdSink, STATSD_FLUSH_INTERVAL_MS, type StatsdSinkOptions } from '../../src/metrics/statsd.js';
import { driveToDeadline, driveUntil, FakeClock, settleOn, watch } from '../support/fake-clock.js';
import { freePort, startStuckServer, startTcpStatsd, startUdpStatsd, waitUntil, type StatsdListener } from '../support/listeners.js';

/*
 * Every sink here runs on a FakeClock: its flush interval, reconnect backoff, warning limits and stop
 * deadline move only when the test advances it, while its sockets and the listeners stay real.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Newest first: sinks stop (and flush) before the listeners they send to close.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { close(): Promise<void> }>(listener: T): T {
  cleanups.push(() => listener.close());
  return listener;
}

/** A sink on `clock`, stopped after the test (the clock driven to its deadline if need be). */
function trackSink(sink: MetricSink, clock: FakeClock): MetricSink {
  cleanups.push(async () => void (await settleOn(clock, sink.stop(clock.now() + 500))));
  return sink;
}

/** The options every sink here shares: prefix `canihaz`, a capturing logger, and `clock`. */
function udpTo(port: number, clock: FakeClock, extra: Partial<StatsdSinkOptions> = {}): StatsdSinkOptions {
  return { destination: { kind: 'statsd', protocol: 'udp', host: '127.0.0.1', port }, prefix: 'canihaz', logger: capturingLogger(), clock, ...extra };
}

/** Real milliseconds `fn` takes. */
async function realMs(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
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
  // The latency bucket counters, summed at the flush: cumulative, the nonzero ones only (1.25, 2.5, 1000 ms).
  const le = (b: string) => listener.sum(`canihaz.home.latency.le_${b}`);
  expect(['1', '2', '5', '10', '500', '1000', '10000', 'inf'].map(le)).toEqual([0, 1, 2, 2, 2, 3, 3, 3]);
  expect(listener.linesOf('canihaz.home.latency.le_1')).toEqual([]);
  expect(listener.lines.length).toBe(EVENT_LINES);
}

/** The lines of `events` and one agent counter: 14, and 13 nonzero `le_` counters at one flush. */
const EVENT_LINES = 14 + 13;
/** The `le_` counters of one flush holding only events[0] (1.25 ms): `le_2` … `le_inf`. */
const LE_OF_FIRST = LATENCY_BUCKET_NAMES.slice(1).map((n) => `canihaz.home.${n}`);

describe('statsd sink over UDP', () => {
  it('sends counters and timers for every event, batched into few packets', async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd());
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock)), clock);
    expect(sink.name).toBe(`statsd://127.0.0.1:${listener.port}`);
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    await clock.advance(STATSD_FLUSH_INTERVAL_MS); // the partial packet goes at the flush interval
    await listener.waitFor(() => listener.lines.length >= EVENT_LINES);
    expectEventLines(listener);
    expect(listener.packets).toBeLessThanOrEqual(2);
  });

  it('holds no timer while nothing is recorded, and flushes 200 ms after the first line after a flush', async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd());
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock)), clock);
    await sink.start();
    const idle = clock.pending;
    await clock.advance(5 * STATSD_FLUSH_INTERVAL_MS);
    expect(clock.pending).toBe(idle); // a quiet test wakes the process for its own ticks only
    sink.record(events[0]!);
    expect(clock.pending).toBe(idle + 1);
    await clock.advance(STATSD_FLUSH_INTERVAL_MS - 1);
    expect(listener.lines).toHaveLength(0);
    await clock.advance(1);
    await listener.waitFor(() => listener.lines.length > 0);
    expect(clock.pending).toBe(idle);
  });

  it('flushes what is buffered when stopped', async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd());
    const sink = createStatsdSink(udpTo(listener.port, clock));
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    const started = clock.now();
    // No flush interval passes: the stop itself sends, and returns once sent, without its deadline.
    expect(await realMs(() => sink.stop(started + 2_000))).toBeLessThan(1_500);
    expect(clock.now()).toBe(started);
    await listener.waitFor(() => listener.lines.length >= EVENT_LINES);
    expectEventLines(listener);
    sink.record(events[0]!); // ignored after stop, and does not throw
  });

  it('accepts events before start() and sends to an IPv6 host', async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd({ host: '::1' }));
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock, { destination: { kind: 'statsd', protocol: 'udp', host: '::1', port: listener.port } })), clock);
    sink.record(events[0]!);
    await sink.start();
    await clock.advance(STATSD_FLUSH_INTERVAL_MS);
    await listener.waitFor(() => listener.lines.length >= 16);
    expect(listener.lines.map((l) => l.name)).toEqual(['canihaz.home.ok', 'canihaz.home.latency', 'canihaz.home.lag', ...LE_OF_FIRST]);
  });
  it('resolves a hostname', async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd());
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock, { destination: { kind: 'statsd', protocol: 'udp', host: 'localhost', port: listener.port } })), clock);
    await sink.start();
    sink.record(events[3]!);
    await clock.advance(STATSD_FLUSH_INTERVAL_MS);
    await listener.waitFor(() => listener.lines.length >= 1);
    expect(listener.lines.map((l) => l.raw)).toEqual(['canihaz.home.dropped:1|c']);
  });
});

describe('statsd sink with statsd_tags', () => {
  it.each([
    ['dogstatsd', 'udp', (name: string) => `${name}:`, '|#host:web-1,test:home'],
    ['telegraf', 'tcp', (name: string) => `${name},host=web-1,test=home:`, ''],
  ] as const)('%s over %s: the test and host as tags, the bucket counters once per flush', async (format, protocol, head, tail) => {
    const clock = new FakeClock();
    const listener = track(protocol === 'udp' ? await startUdpStatsd() : await startTcpStatsd());
    const sink = trackSink(
      createStatsdSink(udpTo(listener.port, clock, { destination: { kind: 'statsd', protocol, host: '127.0.0.1', port: listener.port }, tags: { format, hostname: 'web-1.example.com' } })),
      clock,
    );
    await sink.start();
    for (const e of events) sink.record(e);
    for (const e of events) sink.record(e);
    await clock.advance(STATSD_FLUSH_INTERVAL_MS);
    const raw = () => listener.lines.map((l) => l.raw);
    await listener.waitFor(() => raw().some((l) => l.startsWith(head('canihaz.latency.le_inf'))));
    expect(raw()).toContain(`${head('canihaz.ok')}1|c${tail}`);
    expect(raw()).toContain(`${head('canihaz.failed.timeout')}1|c${tail}`);
    expect(raw()).toContain(`${head('canihaz.latency')}1000|ms${tail}`);
    // Twelve events, one line per nonzero bound for the six executions: le_2 … le_inf.
    const le = raw().filter((l) => l.includes('.le_'));
    expect(le).toEqual(['2', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', 'inf'].map((b) => `${head(`canihaz.latency.le_${b}`)}${['2'].includes(b) ? 2 : ['1000', '2500', '5000', '10000', 'inf'].includes(b) ? 6 : 4}|c${tail}`));
    expect(raw().length).toBe(2 * 13 + 13);
    expect(raw().every((l) => l.endsWith(tail) && !l.includes('.home.'))).toBe(true);
  });
});

describe('statsd sink over TCP', () => {
  const tcpTo = (port: number, clock: FakeClock, extra: Partial<StatsdSinkOptions> = {}): StatsdSinkOptions =>
    udpTo(port, clock, { destination: { kind: 'statsd', protocol: 'tcp', host: '127.0.0.1', port }, ...extra });

  it('sends the same lines over a TCP stream', async () => {
    const clock = new FakeClock();
    const listener = track(await startTcpStatsd());
    const sink = trackSink(createStatsdSink(tcpTo(listener.port, clock)), clock);
    expect(sink.name).toBe(`statsd+tcp://127.0.0.1:${listener.port}`);
    await sink.start();
    for (const e of events) sink.record(e);
    sink.recordAgent({ name: 'skipped', value: 1 });
    await clock.advance(STATSD_FLUSH_INTERVAL_MS);
    await listener.waitFor(() => listener.lines.length >= EVENT_LINES);
    expectEventLines(listener);
  });

  it('survives a server that is down: no unhandled error, one warning, stop by the deadline', async () => {
    const clock = new FakeClock();
    const port = await freePort();
    const logger = capturingLogger();
    const sink = createStatsdSink(tcpTo(port, clock, { logger }));
    await sink.start();
    // Five rounds of events 100 ms apart, each round once the previous refusal has been heard.
    for (let i = 0; i < 5; i++) {
      for (const e of events) sink.record(e);
      await waitUntil(() => logger.warnings.length > 0, { message: 'refused' });
      await clock.advance(100);
    }
    const deadline = clock.now() + 400;
    const stop = await driveToDeadline(clock, sink.stop(deadline), deadline);
    expect(stop.realMsAfterDeadline).toBeLessThan(200); // by its deadline, on its clock
    const failures = logger.warnings.filter((w) => w.msg === 'statsd send failed');
    expect(failures.length).toBe(1);
    expect(failures[0]).toMatchObject({ fields: { destination: `statsd+tcp://127.0.0.1:${port}` } });
    // Nothing could be sent: all 5 x 13 lines, and 3 flushes' 13 `le_` counters (at 200 and 400 ms, and at stop), are counted, once, at stop.
    expect(logger.warnings.filter((w) => w.msg === 'statsd lines dropped during the run')).toEqual([
      { msg: 'statsd lines dropped during the run', fields: { destination: `statsd+tcp://127.0.0.1:${port}`, total_dropped: 104, not_sent_at_stop: 104 } },
    ]);
  });

  it('reconnects when a server that was down comes up, and again after it restarts', async () => {
    const clock = new FakeClock();
    const port = await freePort();
    const logger = capturingLogger();
    const sink = trackSink(createStatsdSink(tcpTo(port, clock, { logger })), clock);
    await sink.start();
    sink.record(events[0]!);
    await waitUntil(() => logger.warnings.some((w) => w.msg === 'statsd send failed'), { message: 'refused at least once' });
    // Keep recording (as a running agent would), every 50 ms of the sink's clock, until lines arrive
    // through a new connection (opened after the backoff, on the same clock).
    const feed = async (listener: StatsdListener) => {
      await driveUntil(clock, () => listener.lines.length >= 3, { stepMs: 50, timeoutMs: 4_000, onStep: () => sink.record(events[0]!), message: 'lines through a new connection' });
      expect(listener.malformed).toEqual([]);
      expect(listener.lines[0]?.name).toMatch(/^canihaz\.home\.(ok|latency|lag|latency\.le_\w+)$/);
    };
    const first = track(await startTcpStatsd({ port }));
    await feed(first);
    await first.close(); // the server closes the connection and comes back
    const second = track(await startTcpStatsd({ port }));
    await feed(second);
    // The replaced client is healthy: stop flushes and returns well before the deadline.
    const started = clock.now();
    expect(await realMs(() => sink.stop(started + 2_000))).toBeLessThan(1_000);
    expect(clock.now()).toBe(started);
  });
});

describe('statsd sink against a server that never reads', () => {
  it('Metrics lost without a word: bounds what waits for a statsd+tcp server that never reads, and counts every line beyond', async () => {
    const clock = new FakeClock();
    const server = track(await startStuckServer());
    const logger = capturingLogger();
    const prefix = 'p'.repeat(4_000);
    const sink = createStatsdSink(udpTo(server.port, clock, { destination: { kind: 'statsd', protocol: 'tcp', host: '127.0.0.1', port: server.port }, prefix, logger, maxPendingBytes: 256 * 1024 }));
    await sink.start();
    await waitUntil(() => server.connections === 1, { message: 'connected' });
    // 3,000 executions x 3 lines of ~4 KB: ~36 MB, far beyond the kernel buffers and the bound.
    for (let i = 0; i < 3_000; i++) {
      sink.record(events[0]!);
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitUntil(() => sink.droppedLines > 0, { message: 'lines dropped' });
    const deadline = clock.now() + 300;
    const stop = await driveToDeadline(clock, sink.stop(deadline), deadline);
    expect(stop.realMsAfterDeadline).toBeLessThan(150); // by its deadline, on its clock
    const midRun = logger.warnings.filter((w) => w.msg === 'statsd lines dropped');
    expect(midRun.length).toBe(1); // rate-limited
    expect(midRun[0]!.fields).toMatchObject({ reason: 'server not reading' });
    const final = logger.warnings.find((w) => w.msg === 'statsd lines dropped during the run');
    expect(final?.fields.total_dropped).toBe(sink.droppedLines);
    const unconfirmed = logger.warnings.find((w) => w.msg === 'statsd lines may not have been delivered: the server did not confirm the close');
    // Every line is accounted for: dropped, or handed to a server that never confirmed it.
    // 9,000 lines of the events, and the 13 `le_` counters of the one flush (at stop: the clock stood still).
    expect(sink.droppedLines + Number(unconfirmed?.fields.lines ?? 0)).toBe(9_000 + 13);
    expect(Number(unconfirmed?.fields.lines)).toBeGreaterThan(0);
  });

  it('A StatsD host name on a slow resolver keeps the process alive: the sink never looks a name up per send', async () => {
    const listener = track(await startUdpStatsd());
    let lookups = 0;
    const resolver: HostResolver = {
      resolve: async () => {
        lookups += 1;
        return { ok: true, address: '127.0.0.1', family: 4 };
      },
      cancel: () => undefined,
    };
    const clock = new FakeClock();
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock, { destination: { kind: 'statsd', protocol: 'udp', host: 'statsd.example', port: listener.port }, resolver })), clock);
    sink.record(events[3]!); // before start: waits for the address
    await sink.start();
    for (let i = 0; i < 500; i++) sink.record(events[3]!);
    await clock.advance(STATSD_FLUSH_INTERVAL_MS);
    await listener.waitFor(() => listener.sum('canihaz.home.dropped') === 501);
    expect(lookups).toBe(1);
  });

  it('a stop abandons a resolution that never ends, within its deadline, and counts what waited', async () => {
    const logger = capturingLogger();
    let cancelled = false;
    const resolver: HostResolver = { resolve: () => new Promise(() => undefined), cancel: () => (cancelled = true) };
    const clock = new FakeClock();
    const sink = createStatsdSink(udpTo(8125, clock, { destination: { kind: 'statsd', protocol: 'udp', host: 'statsd.example', port: 8125 }, logger, resolver }));
    await sink.start();
    sink.record(events[0]!);
    const deadline = clock.now() + 200;
    const stop = await driveToDeadline(clock, sink.stop(deadline), deadline);
    expect(stop.realMsAfterDeadline).toBeLessThan(150); // by its deadline, on its clock
    expect(cancelled).toBe(false); // a shared resolver is the router's to cancel
    expect(logger.warnings).toEqual([
      { msg: 'statsd lines dropped during the run', fields: { destination: 'statsd://statsd.example:8125', total_dropped: 3 + 13, not_sent_at_stop: 3 + 13, resolved: false } },
    ]);
  });
});

describe('host resolver', () => {
  /** A DNS server on loopback that reads queries and never answers. */
  async function silentDns(): Promise<{ server: string; queries: string[]; close(): Promise<void> }> {
    const socket = dgram.createSocket('udp4');
    const queries: string[] = [];
    socket.on('message', (m) => {
      const labels: string[] = [];
      for (let i = 12; m[i]; i += m[i]! + 1) labels.push(m.subarray(i + 1, i + 1 + m[i]!).toString());
      queries.push(labels.join('.'));
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const close = () => new Promise<void>((resolve) => socket.close(() => resolve()));
    cleanups.push(close);
    return { server: `127.0.0.1:${socket.address().port}`, queries, close };
  }

  it('takes IP literals as they are and /etc/hosts names without asking DNS', async () => {
    const dns = await silentDns();
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-resolve-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'hosts'), '10.1.2.3 statsd.internal\n');
    const resolver = createHostResolver({ servers: [dns.server], hostsFile: join(dir, 'hosts'), resolvConf: join(dir, 'none') });
    expect(await resolver.resolve('::1')).toEqual({ ok: true, address: '::1', family: 6 });
    expect(await resolver.resolve('statsd.internal')).toEqual({ ok: true, address: '10.1.2.3', family: 4 });
    expect(dns.queries).toEqual([]);
  });

  it('asks DNS with the search list, gives up at its timeout, and a cancel ends a pending lookup at once', async () => {
    const dns = await silentDns();
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-resolve-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'resolv.conf'), 'search corp.example\n');
    const options = { servers: [dns.server], hostsFile: join(dir, 'none'), resolvConf: join(dir, 'resolv.conf') };
    // The overall bound is on the resolver's clock (a fake one here); each DNS query's own timeout
    // (at most 2 s of real time) never comes into it.
    const clock = new FakeClock();
    const timingOut = watch(createHostResolver({ ...options, timeoutMs: 5_000, clock }).resolve('statsd'));
    await waitUntil(() => dns.queries.length > 0, { message: 'DNS asked' });
    await clock.advance(4_999);
    expect(timingOut.settled).toBe(false);
    await clock.advance(1);
    expect(await realMs(async () => expect(await timingOut.promise).toMatchObject({ ok: false, code: 'ETIMEOUT' }))).toBeLessThan(300);
    expect(dns.queries[0]).toBe('statsd.corp.example');
    const resolver = createHostResolver({ ...options, timeoutMs: 60_000, clock });
    const asked = dns.queries.length;
    const pending = resolver.resolve('statsd');
    await waitUntil(() => dns.queries.length > asked, { message: 'DNS asked again' });
    const started = performance.now();
    resolver.cancel();
    expect(await pending).toMatchObject({ ok: false, code: 'ECANCELLED' });
    expect(performance.now() - started).toBeLessThan(100);
  });
});

/** The soft fd limit of this process, when it is small enough to use up in a test. */
const FD_LIMIT = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN);
const FD_SKIP = Number.isFinite(FD_LIMIT) && FD_LIMIT <= 100_000 ? undefined : `the soft fd limit (${FD_LIMIT}) is too large to use up in a test`;

describe('statsd sink out of file descriptors', () => {
  it.skipIf(FD_SKIP !== undefined)(`One connection per test exhausts file descriptors: a UDP socket that cannot be bound (EMFILE) is said, retried, and what waited is sent${FD_SKIP ? ` (skipped: ${FD_SKIP})` : ''}`, async () => {
    const clock = new FakeClock();
    const listener = track(await startUdpStatsd());
    const logger = capturingLogger();
    const sink = trackSink(createStatsdSink(udpTo(listener.port, clock, { logger })), clock);
    // Use up every file descriptor (bounded by the soft limit), briefly.
    const held: number[] = [];
    try {
      for (let i = 0; i <= FD_LIMIT; i++) held.push(openSync('/dev/null', 'r'));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EMFILE');
    }
    try {
      sink.record(events[3]!);
      await sink.start();
      await waitUntil(() => logger.warnings.some((w) => w.fields.code === 'EMFILE'), { message: 'EMFILE said' });
    } finally {
      for (const fd of held) closeSync(fd);
    }
    // The bind is retried after its backoff and the packet flushed at its interval, both on the sink's clock.
    await driveUntil(clock, () => listener.lines.length >= 1, { timeoutMs: 3_000, message: 'sent after the retry' });
    expect(listener.lines.map((l) => l.raw)).toEqual(['canihaz.home.dropped:1|c']);
    expect(logger.warnings.filter((w) => w.msg === 'statsd send failed')).toMatchObject([{ fields: { code: 'EMFILE' } }]);
  });
});
