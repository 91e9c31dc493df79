/**
 * Real StatsD and Graphite listeners on a local port, for integration and end-to-end tests.
 *
 * - `startUdpStatsd()` — a `dgram` socket; each datagram is split on `\n` into StatsD lines.
 * - `startTcpStatsd()` — a `net` server; the byte stream is split on `\n` into StatsD lines.
 * - `startGraphite()` — a `net` server for the plaintext protocol (`path value timestamp\n`).
 *
 * - `startStuckServer()` — a `net` server that accepts and never reads (each socket paused): a
 *   Graphite or TCP StatsD that hangs, whose kernel buffers fill.
 *
 * Each listens on 127.0.0.1 and port 0 unless told otherwise (pass `port` to bring a listener back on
 * the port of one that was closed, to test reconnection; pass `host: '::1'` for IPv6), records what
 * arrives in order, and offers `waitFor(predicate)`, which polls until the predicate holds and fails
 * with what was received when `timeoutMs` passes (default 3 000). Always `await close()` (in
 * `afterEach`): it closes the server and every accepted connection.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { waitFor } from './cli.js';

/** One StatsD line as received. */
export interface StatsdLine {
  /** Metric name, e.g. `canihaz.home.ok`. */
  name: string;
  value: number;
  /** `c`, `ms`, `g`, `s`, `h`, `d`. */
  type: string;
  /** The `@rate` part, when present. */
  sampleRate?: number;
  /** The line as sent. */
  raw: string;
}

/** One Graphite plaintext point as received. */
export interface GraphitePoint {
  path: string;
  value: number;
  /** Seconds since the epoch. */
  timestamp: number;
  raw: string;
}

export interface ListenerOptions {
  /** Host to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind. Default 0 (any free port). */
  port?: number;
}

export interface WaitOptions {
  /** Give up after this long, ms. Default 3 000. */
  timeoutMs?: number;
  /** Added to the failure message. */
  message?: string;
}

/** What every listener has. */
export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Lines that could not be parsed, as received. */
  readonly malformed: string[];
  /** Polls every 5 ms until `predicate()` is true; rejects with what was received after `timeoutMs`. */
  waitFor(predicate: () => boolean, options?: WaitOptions): Promise<void>;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

export interface StatsdListener extends Listener {
  /** Every line received, in order of arrival. */
  readonly lines: StatsdLine[];
  /** Datagrams (UDP) or connections (TCP) received. */
  readonly packets: number;
  /** Lines named `name`. */
  linesOf(name: string): StatsdLine[];
  /** Sum of the values of `name` (for counters: the total count; sample rates are not scaled). */
  sum(name: string): number;
  /** Number of lines named `name` (for timers: the number of timings). */
  countOf(name: string): number;
}

export interface GraphiteListener extends Listener {
  /** Every point received, in order of arrival, duplicates included. */
  readonly points: GraphitePoint[];
  /** Connections accepted so far. */
  readonly connections: number;
  /**
   * The points as Graphite stores them: one per (path, timestamp), the last received winning.
   * Note that intervals shorter than 1 s share a timestamp and so overwrite each other.
   */
  latest(): GraphitePoint[];
  /** The stored value of `path` at `timestamp` (last received wins), or undefined. */
  valueAt(path: string, timestamp: number): number | undefined;
  /** Sum of the stored values of `path` over every timestamp, after dedup by (path, timestamp). */
  sum(path: string): number;
  /** Distinct timestamps stored for `path`, ascending. */
  timestampsOf(path: string): number[];
}

/** Starts a UDP StatsD listener. */
export async function startUdpStatsd(options: ListenerOptions = {}): Promise<StatsdListener> {
  const host = options.host ?? '127.0.0.1';
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const state = new StatsdState();
  socket.on('message', (msg) => {
    state.packets += 1;
    state.addText(msg.toString('utf8'));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  return state.listener(host, socket.address().port, () => {
    closed ??= new Promise<void>((resolve) => socket.close(() => resolve()));
    return closed;
  });
}

/** Starts a TCP StatsD listener (what `statsd+tcp://` sends to). */
export async function startTcpStatsd(options: ListenerOptions = {}): Promise<StatsdListener> {
  const state = new StatsdState();
  const server = await startTcpServer(options, () => {
    state.packets += 1;
    return (text) => state.addText(text);
  });
  return state.listener(server.host, server.port, server.close);
}

/** Starts a Graphite plaintext listener. */
export async function startGraphite(options: ListenerOptions = {}): Promise<GraphiteListener> {
  const points: GraphitePoint[] = [];
  const malformed: string[] = [];
  let connections = 0;
  const server = await startTcpServer(options, () => {
    connections += 1;
    return (text) => {
      for (const raw of text.split('\n')) {
        if (raw === '') continue;
        const m = /^(\S+) (\S+) (\d+)$/.exec(raw);
        const value = m ? Number(m[2]) : NaN;
        if (!m || Number.isNaN(value)) malformed.push(raw);
        else points.push({ path: m[1]!, value, timestamp: Number(m[3]), raw });
      }
    };
  });
  const latestMap = () => {
    const map = new Map<string, GraphitePoint>();
    for (const p of points) map.set(`${p.path} ${p.timestamp}`, p);
    return map;
  };
  const latest = () => [...latestMap().values()];
  return {
    host: server.host,
    port: server.port,
    points,
    malformed,
    get connections() {
      return connections;
    },
    latest,
    valueAt: (path, timestamp) => latestMap().get(`${path} ${timestamp}`)?.value,
    sum: (path) => latest().reduce((acc, p) => (p.path === path ? acc + p.value : acc), 0),
    timestampsOf: (path) => [...new Set(latest().filter((p) => p.path === path).map((p) => p.timestamp))].sort((a, b) => a - b),
    waitFor: (predicate, waitOptions) => waitUntil(predicate, waitOptions, () => describe(points.map((p) => p.raw))),
    close: server.close,
  };
}

/** A TCP server that accepts connections and never reads from them. */
export interface StuckServer {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every accepted connection (unread data makes the peer see a reset) and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** Starts a server that accepts and never reads. */
export async function startStuckServer(options: ListenerOptions = {}): Promise<StuckServer> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.pause();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await listenOn(server, options.port ?? 0, host);
  let closed: Promise<void> | undefined;
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}

/** Polls `predicate` every 5 ms; rejects after `timeoutMs` (default 3 000) with `received()` in the message. */
export async function waitUntil(predicate: () => boolean, options: WaitOptions = {}, received: () => string = () => ''): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  if (await waitFor(predicate, timeoutMs, 5)) return;
  const what = options.message ? `${options.message}: ` : '';
  throw new Error(`${what}condition not met within ${timeoutMs} ms; received: ${received()}`);
}

/** Reserves a port nobody listens on (it was free a moment ago), for testing a server that is down. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await listenOn(server, 0, host);
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class StatsdState {
  lines: StatsdLine[] = [];
  malformed: string[] = [];
  packets = 0;

  /** Parses whole lines (a datagram, or TCP chunks already cut at a `\n`). */
  addText(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const m = /^([^:|]+):([^|]+)\|([a-z]+)(?:\|@([\d.]+))?/.exec(raw);
      const value = m ? Number(m[2]) : NaN;
      if (!m || Number.isNaN(value)) {
        this.malformed.push(raw);
        continue;
      }
      const line: StatsdLine = { name: m[1]!, value, type: m[3]!, raw };
      if (m[4] !== undefined) line.sampleRate = Number(m[4]);
      this.lines.push(line);
    }
  }

  listener(host: string, port: number, close: () => Promise<void>): StatsdListener {
    const lines = this.lines;
    const linesOf = (name: string) => lines.filter((l) => l.name === name);
    const packets = () => this.packets;
    return {
      host,
      port,
      lines,
      malformed: this.malformed,
      get packets() {
        return packets();
      },
      linesOf,
      sum: (name) => linesOf(name).reduce((acc, l) => acc + l.value, 0),
      countOf: (name) => linesOf(name).length,
      waitFor: (predicate, options) => waitUntil(predicate, options, () => describe(lines.map((l) => l.raw))),
      close,
    };
  }
}

interface TcpServer {
  host: string;
  port: number;
  close: () => Promise<void>;
}

/**
 * Starts a TCP server; `onConnection` returns the handler for that connection's text, which is
 * given whole lines only (a line split across chunks is held until its `\n` arrives).
 */
async function startTcpServer(options: ListenerOptions, onConnection: () => (text: string) => void): Promise<TcpServer> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const handle = onConnection();
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      const cut = pending.lastIndexOf('\n');
      if (cut < 0) return;
      handle(pending.slice(0, cut + 1));
      pending = pending.slice(cut + 1);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await listenOn(server, options.port ?? 0, host);
  let closed: Promise<void> | undefined;
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}

function describe(raws: string[]): string {
  const shown = raws.slice(-40);
  return `${raws.length} line(s)${raws.length > shown.length ? ', last 40' : ''}:\n  ${shown.join('\n  ')}`;
}

/** Listens on `host:port`, rejecting (and listening no more) when the port cannot be had. */
async function listenOn(server: net.Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
