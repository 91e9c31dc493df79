/**
 * Real metric servers for the end-to-end tests (`test/e2e/`), started and stopped by the tests:
 *
 * - `startRealStatsd()` — the etsy statsd daemon from npm (devDependency `statsd`), on free loopback
 *   ports, with a private config: a short flush interval and a backend of ours
 *   (`statsd-capture-backend.cjs`) that hands every flush's aggregates to the test over IPC. It runs
 *   on the Node running the tests, with `statsd-node-compat.cjs` preloaded (statsd 0.9 needs
 *   `util.log`, gone since Node 23).
 * - `startCarbon()` — Debian's `carbon-cache` (package `graphite-carbon`) with a private `carbon.conf`
 *   and a `1s:1h` storage schema in a temp dir; what it stored is read back with `whisper-fetch --json`
 *   (package `python3-whisper`).
 *
 * Each server is a child process with a watchdog (SIGKILL after `killAfterMs`, and when the test
 * process exits) so no test can leave one behind; should the test process be killed outright, statsd
 * exits when its IPC channel closes and carbon-cache, run under coreutils `timeout`, at `killAfterMs`. Ports are found by binding port 0 and releasing it;
 * a start that loses that race (the port taken in between) is retried on new ports.
 *
 * Whether the servers may be missing is decided by `e2eSkipReason`: with `CANIHAZ_E2E=1` (set by
 * `.ci/run`) nothing is skipped and a missing server fails the test; elsewhere the test is skipped
 * and says why.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOOPBACK = '127.0.0.1';
/** How many times a start that lost its ports to another process is retried on new ports. */
const START_ATTEMPTS = 3;
/** Most child output kept for error messages, characters. */
const OUTPUT_TAIL = 16_000;

/** True when CI demands the real servers (`CANIHAZ_E2E=1`): a missing server is a failure, not a skip. */
export const E2E_REQUIRED = process.env.CANIHAZ_E2E === '1';

/** Whether an e2e test runs here, and the title it runs or is skipped under. */
export interface E2eGate {
  skip: boolean;
  /** The title, with the skip reason appended when skipped, so every reporter shows why. */
  title: string;
}

/**
 * Decides whether an e2e test runs: under `CANIHAZ_E2E=1` always (a missing server then fails it);
 * elsewhere only when none of `missing` (reasons from `statsdMissing()`, `carbonMissing()`) is set —
 * otherwise it is skipped, with the reason in its title and in a warning on stderr.
 */
export function e2eGate(title: string, ...missing: (string | undefined)[]): E2eGate {
  const reasons = missing.filter((m): m is string => m !== undefined);
  if (E2E_REQUIRED || reasons.length === 0) return { skip: false, title };
  const reason = `${reasons.join('; ')}; CI sets CANIHAZ_E2E=1 and installs them`;
  console.warn(`SKIPPED e2e test "${title}": ${reason}`);
  return { skip: true, title: `${title} [skipped: ${reason}]` };
}

/** Why the etsy statsd cannot be started here, or undefined when it can. */
export function statsdMissing(): string | undefined {
  return statsdScript() ? undefined : 'the etsy statsd (npm devDependency `statsd`) is not installed: run npm ci';
}

/** Why carbon-cache and whisper-fetch cannot be run here, or undefined when they can. */
export function carbonMissing(): string | undefined {
  const missing = ['carbon-cache', 'whisper-fetch', 'timeout'].filter((cmd) => !onPath(cmd));
  return missing.length === 0
    ? undefined
    : `${missing.join(' and ')} not on PATH (Debian: apt-get install graphite-carbon python3-whisper)`;
}

// ---------------------------------------------------------------------------------------------------
// StatsD

/** One timer as aggregated by statsd (over one flush, or summed over several). */
export interface StatsdTimer {
  count: number;
  sum: number;
  mean: number;
  lower: number;
  upper: number;
}

/** One flush of statsd's aggregates, as its backends saw it. */
export interface StatsdFlush {
  /** Seconds since the epoch. */
  timestamp: number;
  counters: Record<string, number>;
  timers: Record<string, StatsdTimer>;
}

export interface RealStatsdOptions {
  /** Transport of the metrics port. Default `udp`. */
  protocol?: 'udp' | 'tcp';
  /** statsd's flushInterval, ms. Default 1 000. */
  flushIntervalMs?: number;
  /** SIGKILL the daemon after this long, ms. Default 180 000. */
  killAfterMs?: number;
}

/** A running etsy statsd. */
export interface RealStatsd {
  readonly protocol: 'udp' | 'tcp';
  readonly host: string;
  /** Metrics port (UDP or TCP). */
  readonly port: number;
  /** Management console port (TCP). */
  readonly managementPort: number;
  /** The canihaz destination for it: `statsd://127.0.0.1:P` or `statsd+tcp://127.0.0.1:P`. */
  readonly destination: string;
  /** Every flush received so far, in order. */
  readonly flushes: readonly StatsdFlush[];
  /** A counter summed over every flush (0 when never seen). */
  counter(name: string): number;
  /** A timer combined over every flush (count and sum added, lower/upper the extremes), or undefined. */
  timer(name: string): StatsdTimer | undefined;
  /** Names of every counter seen with a non-zero value. */
  counterNames(): string[];
  /** Waits until `n` more flushes have arrived, so everything sent before the call has been aggregated. */
  settle(n?: number): Promise<void>;
  /** Sends one management console command (`health`, `counters`, `timers`, `stats`) and returns the reply. */
  management(command: string): Promise<string>;
  /** The daemon's stdout and stderr (the last 16 000 characters). */
  readonly output: string;
  /** Stops the daemon and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/** Name of the counter sent while waiting for statsd to be ready; ignore it in assertions. */
export const STATSD_READY_COUNTER = 'canihaz_e2e.ready';

/** Starts the etsy statsd on free loopback ports and waits until a metric sent to it shows up in a flush. */
export async function startRealStatsd(options: RealStatsdOptions = {}): Promise<RealStatsd> {
  const script = statsdScript();
  if (!script) throw new Error(statsdMissing());
  const protocol = options.protocol ?? 'udp';
  const flushIntervalMs = options.flushIntervalMs ?? 1_000;
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-statsd-'));
    const port = await freePort(protocol);
    const managementPort = await freePort('tcp');
    const config = {
      servers: [{ server: `./servers/${protocol}`, address: LOOPBACK, port }],
      mgmt_address: LOOPBACK,
      mgmt_port: managementPort,
      flushInterval: flushIntervalMs,
      backends: [fileURLToPath(new URL('./statsd-capture-backend.cjs', import.meta.url))],
      deleteIdleStats: true,
      percentThreshold: [90],
      automaticConfigReload: false,
      log: { backend: 'stdout' },
    };
    const configFile = join(dir, 'config.js');
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const compat = fileURLToPath(new URL('./statsd-node-compat.cjs', import.meta.url));
    const daemon = startChild(process.execPath, ['--require', compat, script, configFile], {
      killAfterMs: options.killAfterMs ?? 180_000,
      ipc: true,
    });
    const statsd = new RealStatsdImpl(daemon, dir, protocol, port, managementPort);
    try {
      await statsd.ready(15_000);
      return statsd;
    } catch (err) {
      lastError = err;
      await statsd.stop();
      if (!/EADDRINUSE/.test(daemon.output)) break;
    }
  }
  throw lastError;
}

class RealStatsdImpl implements RealStatsd {
  readonly host = LOOPBACK;
  readonly flushes: StatsdFlush[] = [];
  #daemon: ManagedChild;
  #dir: string;
  #flushWaiters: (() => void)[] = [];

  constructor(
    daemon: ManagedChild,
    dir: string,
    readonly protocol: 'udp' | 'tcp',
    readonly port: number,
    readonly managementPort: number,
  ) {
    this.#daemon = daemon;
    this.#dir = dir;
    this.stop = this.stop.bind(this);
    daemon.child.on('message', (message: unknown) => {
      const flush = message as StatsdFlush & { kind?: string };
      if (flush?.kind !== 'flush') return;
      this.flushes.push({ timestamp: flush.timestamp, counters: flush.counters ?? {}, timers: flush.timers ?? {} });
      for (const wake of this.#flushWaiters.splice(0)) wake();
    });
  }

  get destination(): string {
    return `${this.protocol === 'tcp' ? 'statsd+tcp' : 'statsd'}://${this.host}:${this.port}`;
  }

  get output(): string {
    return this.#daemon.output;
  }

  counter(name: string): number {
    return this.flushes.reduce((sum, f) => sum + (f.counters[name] ?? 0), 0);
  }

  counterNames(): string[] {
    return [...new Set(this.flushes.flatMap((f) => Object.keys(f.counters).filter((k) => f.counters[k] !== 0)))].sort();
  }

  timer(name: string): StatsdTimer | undefined {
    const parts = this.flushes.map((f) => f.timers[name]).filter((t): t is StatsdTimer => t !== undefined && t.count > 0);
    if (parts.length === 0) return undefined;
    const count = parts.reduce((s, t) => s + t.count, 0);
    const sum = parts.reduce((s, t) => s + t.sum, 0);
    return {
      count,
      sum,
      mean: sum / count,
      lower: Math.min(...parts.map((t) => t.lower)),
      upper: Math.max(...parts.map((t) => t.upper)),
    };
  }

  async settle(n = 2): Promise<void> {
    const boundMs = 15_000;
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`statsd did not flush within ${boundMs} ms:\n${this.output}`)), boundMs);
        const onExit = () => {
          clearTimeout(timer);
          reject(new Error(`statsd exited while waiting for a flush:\n${this.output}`));
        };
        this.#daemon.child.once('exit', onExit);
        this.#flushWaiters.push(() => {
          clearTimeout(timer);
          this.#daemon.child.off('exit', onExit);
          resolve();
        });
        if (this.#daemon.hasExited) onExit();
      });
    }
  }

  management(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.managementPort, this.host);
      let reply = '';
      const timer = setTimeout(() => finish(new Error(`statsd management "${command}": no reply within 3 s`)), 3_000);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply);
      };
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`${command}\n`));
      socket.on('data', (d: string) => {
        reply += d;
        if (/^health: /m.test(reply) || /^END$/m.test(reply)) finish();
      });
      socket.on('error', (err) => finish(err));
    });
  }

  /** Resolves once the management console answers and a counter sent to the metrics port was flushed. */
  async ready(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    const fail = (why: string) => new Error(`statsd not ready: ${why}\n--- statsd output ---\n${this.output}`);
    for (;;) {
      if (this.#daemon.hasExited) throw fail('it exited');
      if (Date.now() > until) throw fail('its management console did not answer `health`');
      const health = await this.management('health').catch(() => '');
      if (/health: up/.test(health)) break;
      await sleep(100);
    }
    while (this.counter(STATSD_READY_COUNTER) === 0) {
      if (this.#daemon.hasExited) throw fail('it exited');
      if (Date.now() > until) throw fail(`a counter sent to its ${this.protocol} port never appeared in a flush`);
      await sendStatsdLine(this.protocol, this.host, this.port, `${STATSD_READY_COUNTER}:1|c`).catch(() => undefined);
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    await this.#daemon.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Graphite (carbon-cache + whisper)

/** One stored Graphite point. */
export interface WhisperPoint {
  /** Seconds since the epoch. */
  timestamp: number;
  value: number;
}

export interface CarbonOptions {
  /** SIGKILL carbon-cache after this long, ms. Default 180 000. */
  killAfterMs?: number;
  /** Retentions of the single storage schema (pattern `.*`). Default `1s:1h`. */
  retentions?: string;
}

/** What to wait for in `RealCarbon.settle`. */
export interface CarbonSettleOptions {
  /** Read every path under this prefix (e.g. `canihaz.web-1`). */
  under: string;
  /** Paths that must exist before the store counts as settled. */
  require: string[];
  /** Time range to read, seconds since the epoch. */
  from: number;
  until: number;
  /**
   * What the caller expects to find (e.g. the counts summed to what the target saw): the store counts
   * as settled only once this holds too. At the deadline the last read is returned anyway, so the
   * caller's own assertions say what differs. Default: nothing more.
   */
  expect?: (points: Map<string, WhisperPoint[]>) => boolean;
  /** The store counts as settled when two reads this far apart are identical, ms. Default 1 000. */
  quietMs?: number;
  /** Give up waiting after this long, ms. Default 20 000. */
  timeoutMs?: number;
}

/** A running carbon-cache. */
export interface RealCarbon {
  readonly host: string;
  /** Plaintext line receiver port. */
  readonly port: number;
  /** The canihaz destination for it: `graphite://127.0.0.1:P`. */
  readonly destination: string;
  /** Where the .wsp files are. */
  readonly whisperDir: string;
  /** Every metric path that has a whisper file, sorted. */
  paths(): Promise<string[]>;
  /** The non-null points of one path in `[from, until]`, read with `whisper-fetch --json`. */
  fetch(path: string, from: number, until: number): Promise<WhisperPoint[]>;
  /**
   * Waits until every required path exists, the points under `under` stop changing (carbon has
   * written its cache to disk) and `expect` holds, then returns them by path. Rejects when a required
   * path is still missing at the deadline.
   */
  settle(options: CarbonSettleOptions): Promise<Map<string, WhisperPoint[]>>;
  /** carbon-cache's log (`--debug` logs to stdout; the last 16 000 characters). */
  readonly output: string;
  /** Stops carbon-cache, waits for it to exit and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Starts carbon-cache on free loopback ports with its storage in a temp dir, and waits until its line receiver accepts. */
export async function startCarbon(options: CarbonOptions = {}): Promise<RealCarbon> {
  const missing = carbonMissing();
  if (missing) throw new Error(`cannot start Graphite: ${missing}`);
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-carbon-'));
    const storage = join(dir, 'storage');
    const whisperDir = join(storage, 'whisper');
    await mkdir(whisperDir, { recursive: true });
    const [linePort, picklePort, queryPort] = [await freePort('tcp'), await freePort('tcp'), await freePort('tcp')];
    await writeFile(join(dir, 'carbon.conf'), carbonConf({ storage, whisperDir, linePort, picklePort, queryPort }));
    await writeFile(join(dir, 'storage-schemas.conf'), `[everything]\npattern = .*\nretentions = ${options.retentions ?? '1s:1h'}\n`);
    await writeFile(join(dir, 'storage-aggregation.conf'), '[everything]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n');
    // Under coreutils' timeout, so even a test process killed outright cannot leave carbon behind
    // for longer than killAfterMs (timeout passes our SIGTERM on to it).
    const killAfterMs = options.killAfterMs ?? 180_000;
    const carbonArgs = ['carbon-cache', `--config=${join(dir, 'carbon.conf')}`, '--debug', 'start'];
    const daemon = startChild('timeout', ['--kill-after=5', `${Math.ceil(killAfterMs / 1000)}`, ...carbonArgs], { killAfterMs });
    const carbon = new RealCarbonImpl(daemon, dir, whisperDir, linePort);
    try {
      await carbon.ready(30_000);
      return carbon;
    } catch (err) {
      lastError = err;
      await carbon.stop();
      if (!/EADDRINUSE|Address already in use|Couldn't listen/i.test(daemon.output)) break;
    }
  }
  throw lastError;
}

function carbonConf(o: { storage: string; whisperDir: string; linePort: number; picklePort: number; queryPort: number }): string {
  return `[cache]
STORAGE_DIR = ${o.storage}
LOCAL_DATA_DIR = ${o.whisperDir}
WHITELISTS_DIR = ${join(o.storage, 'lists')}
LOG_DIR = ${join(o.storage, 'log')}
PID_DIR = ${o.storage}
USER =
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
LINE_RECEIVER_INTERFACE = ${LOOPBACK}
LINE_RECEIVER_PORT = ${o.linePort}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = ${LOOPBACK}
PICKLE_RECEIVER_PORT = ${o.picklePort}
CACHE_QUERY_INTERFACE = ${LOOPBACK}
CACHE_QUERY_PORT = ${o.queryPort}
LOG_LISTENER_CONNECTIONS = False
LOG_UPDATES = False
LOG_CACHE_HITS = False
LOG_CACHE_QUEUE_SORTS = False
LOG_CREATES = True
`;
}

class RealCarbonImpl implements RealCarbon {
  readonly host = LOOPBACK;
  #daemon: ManagedChild;
  #dir: string;
  #stopped = false;

  constructor(
    daemon: ManagedChild,
    dir: string,
    readonly whisperDir: string,
    readonly port: number,
  ) {
    this.#daemon = daemon;
    this.#dir = dir;
    this.stop = this.stop.bind(this);
  }

  get destination(): string {
    return `graphite://${this.host}:${this.port}`;
  }

  get output(): string {
    return this.#daemon.output;
  }

  async ready(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.#daemon.hasExited) throw new Error(`carbon-cache exited before it listened:\n${this.output}`);
      if (await canConnect(this.host, this.port)) return;
      if (Date.now() > until) throw new Error(`carbon-cache did not accept on ${this.host}:${this.port} within ${timeoutMs} ms:\n${this.output}`);
      await sleep(100);
    }
  }

  async paths(): Promise<string[]> {
    const files = await readdir(this.whisperDir, { recursive: true }).catch(() => [] as string[]);
    return files
      .filter((f) => f.endsWith('.wsp'))
      .map((f) => f.slice(0, -'.wsp'.length).split(sep).join('.'))
      .sort();
  }

  async fetch(path: string, from: number, until: number): Promise<WhisperPoint[]> {
    const file = join(this.whisperDir, ...path.split('.')) + '.wsp';
    // whisper returns the slots after `from`; ask from one step earlier so `from` itself is included.
    const out = await runToEnd('whisper-fetch', ['--json', `--from=${from - 1}`, `--until=${until}`, file], 10_000);
    if (out.code !== 0) throw new Error(`whisper-fetch ${file} exited ${out.code}: ${out.stderr.trim()}`);
    const series = JSON.parse(out.stdout) as { start: number; step: number; values: (number | null)[] };
    const points: WhisperPoint[] = [];
    series.values.forEach((value, i) => {
      const timestamp = series.start + i * series.step;
      if (value !== null && timestamp >= from && timestamp <= until) points.push({ timestamp, value });
    });
    return points;
  }

  async settle(options: CarbonSettleOptions): Promise<Map<string, WhisperPoint[]>> {
    const quietMs = options.quietMs ?? 1_000;
    const timeoutMs = options.timeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    let previous: string | undefined;
    for (;;) {
      const paths = (await this.paths()).filter((p) => p === options.under || p.startsWith(`${options.under}.`));
      const current = new Map<string, WhisperPoint[]>();
      for (const path of paths) current.set(path, await this.fetch(path, options.from, options.until));
      const snapshot = JSON.stringify([...current]);
      const missing = options.require.filter((p) => !current.has(p));
      if (missing.length === 0 && snapshot === previous && (options.expect?.(current) ?? true)) return current;
      if (this.#daemon.hasExited) throw new Error(`carbon-cache exited:\n${this.output}`);
      if (Date.now() > deadline) {
        if (missing.length === 0) return current;
        throw new Error(
          `carbon's store still lacks ${missing.join(', ')} after ${timeoutMs} ms\n--- carbon-cache output ---\n${this.output}`,
        );
      }
      previous = snapshot;
      await sleep(quietMs);
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#daemon.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Processes, ports, sockets

interface ManagedChild {
  child: ChildProcess;
  readonly output: string;
  readonly hasExited: boolean;
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function startChild(command: string, args: string[], options: { killAfterMs: number; ipc?: boolean }): ManagedChild {
  const stdio: StdioOptions = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const child = spawn(command, args, { stdio, env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONWARNINGS: 'ignore' } });
  liveChildren.add(child);
  let output = '';
  const keep = (d: string) => {
    output = (output + d).slice(-OUTPUT_TAIL);
  };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  let hasExited = false;
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      keep(`\n[spawn ${command}: ${err.message}]\n`);
      hasExited = true;
      resolve();
    });
    child.on('exit', () => {
      hasExited = true;
      resolve();
    });
  });
  const watchdog = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  void exited.then(() => {
    clearTimeout(watchdog);
    liveChildren.delete(child);
  });
  return {
    child,
    get output() {
      return output;
    },
    get hasExited() {
      return hasExited;
    },
    exited,
    async stop() {
      if (!hasExited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
}

/** Runs a command to completion (killed after `timeoutMs`). */
function runToEnd(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(killer);
      resolve({ code: -1, stdout, stderr: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A loopback port that was free a moment ago (bound on port 0, then released). */
export async function freePort(protocol: 'udp' | 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, LOOPBACK, () => resolve());
    });
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function sendStatsdLine(protocol: 'udp' | 'tcp', host: string, port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const socket = dgram.createSocket('udp4');
      socket.send(line, port, host, (err) => {
        socket.close();
        if (err) reject(err);
        else resolve();
      });
      return;
    }
    const socket = net.connect(port, host, () => socket.end(`${line}\n`));
    socket.setTimeout(1_000, () => socket.destroy(new Error('timeout')));
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
}

function statsdScript(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('statsd/package.json');
    const script = join(dirname(pkg), 'stats.js');
    return existsSync(script) ? script : undefined;
  } catch {
    return undefined;
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
