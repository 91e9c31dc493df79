/**
 * A simulated fleet for the fleet test (`test/e2e/fleet.timing.test.ts`), built from Linux network
 * namespaces (root only):
 *
 * - a hub namespace holding a bridge at 10.200.0.1/24, a Node HTTP target that records every arrival,
 *   and the etsy statsd (npm devDependency `statsd`) with our capture backend;
 * - one namespace per agent host, joined to the bridge by a veth pair, at 10.200.0.(11 + i);
 * - each agent is the real CLI, started inside its namespace in its own UTS namespace with its own host
 *   name (`ip netns exec NS unshare --uts sh -c 'hostname h03; exec node dist/cli.js run …'`).
 *
 * 10.200.0.0/24 exists only inside these namespaces: nothing is routed from or to the real network.
 * Every namespace is named `canihaz-fleet-<pid>-…`; `destroy()` removes them all (deleting a namespace
 * destroys its veth ends and the bridge), and `removeStaleFleets()` removes those of test processes
 * that died without cleaning up. Every child has a watchdog; every wait is bounded.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from './cli.js';

/** Prefix of every namespace this module creates; the test process id follows it. */
export const FLEET_NS_PREFIX = 'canihaz-fleet-';
/** The hub's address on the fleet bridge: the target listens on port 80 here, statsd on 8125/udp. */
export const HUB_ADDRESS = '10.200.0.1';
/** How long one `ip` command may take, ms. */
const IP_TIMEOUT_MS = 10_000;
/** How long the hub's servers may take to start, ms. */
const HUB_START_MS = 15_000;
/** Most child output kept for error messages, characters. */
const OUTPUT_TAIL = 8_000;

/** The address of agent host `i` (0-based). */
export function agentAddress(i: number): string {
  return `10.200.0.${11 + i}`;
}

/**
 * Why the fleet test must be skipped here, or undefined when it must run. Outside root (or Linux) it
 * is always skipped; as root, a missing `ip`, `unshare`, `hostname` or etsy statsd, or namespaces that
 * do not work, skip it only without `CANIHAZ_E2E=1` (CI sets it and runs as root: there they fail it).
 */
export async function fleetSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)';
  if (process.env.CANIHAZ_E2E === '1') return undefined;
  const missing = ['ip', 'unshare', 'hostname'].filter((cmd) => !onPath(cmd));
  if (missing.length > 0) return `${missing.join(', ')} not on PATH (Debian: apt-get install iproute2 util-linux hostname)`;
  try {
    statsdScript();
  } catch {
    return 'the etsy statsd (npm devDependency `statsd`) is not installed: run npm ci';
  }
  return netnsBroken();
}

/** One arrival at the hub's target. */
export interface Arrival {
  /** Wall-clock ms (sub-ms resolution) when the request's headers arrived. */
  at: number;
  /** The request path. */
  path: string;
  /** The sender's address: which agent host it came from. */
  from: string;
}

/** One flush of statsd's counters, as the capture backend reported it. */
export interface StatsdFlush {
  timestamp: number;
  counters: Record<string, number>;
}

/** A running agent: the real CLI in its own namespace and UTS namespace. */
export interface FleetAgent {
  host: string;
  child: ChildProcess;
  readonly stderr: string;
  /** Resolves with the exit code (null when killed) once the process has exited. */
  done: Promise<number | null>;
}

/** The hub and the agent namespaces, ready to run agents. */
export interface Fleet {
  /** Agent host names, `h01`…, in address order. */
  readonly hosts: readonly string[];
  /** Every arrival at the target so far. */
  readonly arrivals: readonly Arrival[];
  /** Every statsd flush so far. */
  readonly flushes: readonly StatsdFlush[];
  /** A counter summed over every flush. */
  counter(name: string): number;
  /** Waits until `n` more statsd flushes have arrived (everything sent before is aggregated). */
  settle(n?: number): Promise<void>;
  /** Starts `canihaz run …argsFor(host)` on every host at once; each is SIGKILLed after `killAfterMs` (default 90 s). */
  startAgents(argsFor: (host: string) => string[], options?: { killAfterMs?: number }): FleetAgent[];
  /** Kills every process and deletes every namespace; safe to call more than once, never throws. */
  destroy(): Promise<void>;
}

/** Options of createFleet. */
export interface FleetOptions {
  /** How many agent hosts. */
  hosts: number;
  /** statsd's flushInterval, ms. Default 1 000. */
  flushIntervalMs?: number;
  /** SIGKILL the hub's servers after this long, ms. Default 300 000. */
  killAfterMs?: number;
}

/** Builds the hub and `hosts` agent namespaces and starts the target and statsd in the hub. */
export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const prefix = `${FLEET_NS_PREFIX}${process.pid}-`;
  const hub = `${prefix}hub`;
  const hosts = Array.from({ length: options.hosts }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
  const namespaces: string[] = [];
  const children = new Set<ChildProcess>();
  const arrivals: Arrival[] = [];
  const flushes: StatsdFlush[] = [];
  const flushWaiters = new Set<() => void>();
  let dir: string | undefined;

  const destroy = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all([...children].map((c) => exited(c, 5_000)));
    children.clear();
    for (const ns of namespaces.splice(0).reverse()) await deleteNamespace(ns);
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    dir = await mkdtemp(join(tmpdir(), 'canihaz-fleet-'));
    await ip(['netns', 'add', hub]);
    namespaces.push(hub);
    await ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', hub, 'addr', 'add', `${HUB_ADDRESS}/24`, 'dev', 'br0']);
    await ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    for (const [i, host] of hosts.entries()) {
      const ns = `${prefix}${host}`;
      await ip(['netns', 'add', ns]);
      namespaces.push(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // Both ends are created inside namespaces: nothing appears in the root namespace.
      await ip(['-n', hub, 'link', 'add', `v${host}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', hub, 'link', 'set', `v${host}`, 'master', 'br0', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${agentAddress(i)}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    }

    const killAfterMs = options.killAfterMs ?? 300_000;
    // The target: one line per arrival on stdout, written as the request's headers arrive.
    const target = track(
      spawn('ip', ['netns', 'exec', hub, process.execPath, '-e', TARGET_SCRIPT, HUB_ADDRESS, '80'], { stdio: ['pipe', 'pipe', 'pipe'] }),
      killAfterMs,
    );
    const targetReady = lines(target, (line) => {
      const [kind, at, path, from] = line.split(' ');
      if (kind === 'arrival') arrivals.push({ at: Number(at), path: path!, from: from! });
      return kind === 'listening';
    });

    const configFile = join(dir, 'statsd.js');
    await writeFile(
      configFile,
      JSON.stringify({
        servers: [{ server: './servers/udp', address: HUB_ADDRESS, port: 8125 }],
        mgmt_address: '127.0.0.1',
        mgmt_port: 8126,
        flushInterval: options.flushIntervalMs ?? 1_000,
        backends: [fileURLToPath(new URL('./statsd-capture-backend.cjs', import.meta.url))],
        deleteIdleStats: true,
        automaticConfigReload: false,
        log: { backend: 'stdout' },
      }),
    );
    // The capture backend sends each flush over the IPC channel, which `ip netns exec` passes on.
    const statsd = track(
      spawn('ip', ['netns', 'exec', hub, process.execPath, statsdScript(), configFile], {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        cwd: join(statsdScript(), '..'),
      }),
      killAfterMs,
    );
    statsd.on('message', (m: { kind?: string; timestamp: number; counters: Record<string, number> }) => {
      if (m?.kind !== 'flush') return;
      flushes.push({ timestamp: m.timestamp, counters: m.counters });
      for (const w of [...flushWaiters]) w();
    });
    let statsdOutput = '';
    statsd.stdout!.setEncoding('utf8').on('data', (d: string) => (statsdOutput = (statsdOutput + d).slice(-OUTPUT_TAIL)));
    statsd.stderr!.setEncoding('utf8').on('data', (d: string) => (statsdOutput = (statsdOutput + d).slice(-OUTPUT_TAIL)));

    const settle = (n = 1) =>
      new Promise<void>((resolve, reject) => {
        const goal = flushes.length + n;
        const waiter = () => {
          if (flushes.length < goal) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`statsd: no flush within ${HUB_START_MS} ms; output: ${statsdOutput}`));
        }, HUB_START_MS);
        const done = () => {
          clearTimeout(timer);
          flushWaiters.delete(waiter);
        };
        flushWaiters.add(waiter);
      });
    await Promise.all([targetReady, settle(1)]);

    return {
      hosts,
      arrivals,
      flushes,
      counter: (name) => flushes.reduce((sum, f) => sum + (f.counters[name] ?? 0), 0),
      settle,
      startAgents(argsFor, agentOptions = {}) {
        return hosts.map((host) => {
          const child = track(
            spawn(
              'ip',
              // `sh` sets the UTS namespace's host name, then becomes the agent (exec: one process).
              ['netns', 'exec', `${prefix}${host}`, 'unshare', '--uts', 'sh', '-c', 'hostname "$1" && shift && exec "$@"', 'sh', host, process.execPath, CLI, 'run', ...argsFor(host)],
              { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined } },
            ),
            agentOptions.killAfterMs ?? 90_000,
          );
          let stderr = '';
          child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-OUTPUT_TAIL)));
          const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
          return {
            host,
            child,
            get stderr() {
              return stderr;
            },
            done,
          };
        });
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }

  function track(child: ChildProcess, killAfterMs: number): ChildProcess {
    children.add(child);
    const watchdog = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', () => {
      clearTimeout(watchdog);
      children.delete(child);
    });
    return child;
  }
}

/** Deletes fleet namespaces left by test processes that no longer exist (a run killed mid-test). */
export async function removeStaleFleets(): Promise<void> {
  const { stdout } = await ip(['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = name.startsWith(FLEET_NS_PREFIX) ? /^(\d+)-/.exec(name.slice(FLEET_NS_PREFIX.length)) : null;
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    await deleteNamespace(name);
  }
}

/** Kills what still runs in a namespace of ours (statsd outlives a killed test), then deletes it. */
async function deleteNamespace(ns: string): Promise<void> {
  const pids = await ip(['netns', 'pids', ns]).then(
    ({ stdout }) => stdout.split(/\s+/).filter(Boolean).map(Number),
    () => [],
  );
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await ip(['netns', 'del', ns]).catch(() => undefined);
}

/** Why `ip netns` does not work here (e.g. a container without CAP_SYS_ADMIN), or undefined when it does. */
async function netnsBroken(): Promise<string | undefined> {
  const probe = `${FLEET_NS_PREFIX}${process.pid}-probe`;
  try {
    await ip(['netns', 'add', probe]);
    await ip(['-n', probe, 'link', 'add', 'br0', 'type', 'bridge']);
    return undefined;
  } catch (err) {
    return `ip netns does not work here: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await ip(['netns', 'del', probe]).catch(() => undefined);
  }
}

/** The HTTP target run in the hub: answers 200 and prints `arrival <wall ms> <path> <sender>` per request. */
const TARGET_SCRIPT = `
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const [host, port] = process.argv.slice(1);
const server = http.createServer((req, res) => {
  const at = performance.timeOrigin + performance.now();
  process.stdout.write('arrival ' + at.toFixed(3) + ' ' + req.url + ' ' + req.socket.remoteAddress + '\\n');
  res.end('ok');
});
server.listen(Number(port), host, () => process.stdout.write('listening\\n'));
// The test holds stdin open: when it goes away, so does the target.
process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
`;

function ip(args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve({ stdout });
    });
  });
}

/** Calls `onLine` for every stdout line; resolves when it returns true, rejects on exit or timeout. */
function lines(child: ChildProcess, onLine: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let errors = '';
    let ready = false;
    const timer = setTimeout(() => reject(new Error(`hub target did not start within ${HUB_START_MS} ms: ${errors}`)), HUB_START_MS);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors = (errors + d).slice(-OUTPUT_TAIL)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (onLine(line) && !ready) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`hub target exited (${code}) before listening: ${errors}`));
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function statsdScript(): string {
  return createRequire(import.meta.url).resolve('statsd/stats.js');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, cmd), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
