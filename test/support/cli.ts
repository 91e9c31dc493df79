import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** The compiled CLI (`npm test` builds it first). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A private agent home: settings, config, stop file and lock dir in a temp dir, so nothing needs root. */
export interface AgentHome {
  dir: string;
  config: string;
  stopFile: string;
  lockDir: string;
  settings: string;
  /** Flags that point the CLI at this home. */
  args: string[];
  writeConfig(text: string): Promise<void>;
}

/** Creates an AgentHome with an empty settings file. */
export async function agentHome(): Promise<AgentHome> {
  const dir = await mkdtemp(join(tmpdir(), 'canihaz-it-'));
  const home = {
    dir,
    config: join(dir, 'tests.conf'),
    stopFile: join(dir, 'stop'),
    lockDir: join(dir, 'lock'),
    settings: join(dir, 'canihaz.conf'),
  };
  // Explicit modes: strict_modes refuses group-writable files, which a umask of 002 would give.
  await writeFile(home.settings, '# test settings\n', { mode: 0o644 });
  return {
    ...home,
    args: ['--config', home.config, '--settings', home.settings, '--stop-file', home.stopFile, '--lock-dir', home.lockDir],
    writeConfig: (text: string) => writeFile(home.config, text, { mode: 0o644 }),
  };
}

/** A finished CLI process. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Spawn → exit, ms. */
  durationMs: number;
}

/** A running CLI process. */
export interface CliProcess {
  child: ChildProcess;
  startedAt: number;
  readonly stdout: string;
  readonly stderr: string;
  done: Promise<CliResult>;
}

/** How spawnCli runs the CLI. */
export interface SpawnCliOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill (SIGKILL) after this long, ms, so no test hangs. Default 90 s. */
  killAfterMs?: number;
  /** A command that execs the rest of its arguments (`node dist/cli.js …`), e.g. `unshare … sh -c '…; exec "$@"'`. */
  wrap?: string[];
}

/** Spawns `node dist/cli.js ...args` (through `wrap` when given); killed after `killAfterMs` (default 90 s) so no test hangs. */
export function spawnCli(args: string[], options: SpawnCliOptions = {}): CliProcess {
  const startedAt = performance.now();
  const command = [...(options.wrap ?? []), process.execPath, CLI, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 90_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - startedAt });
    });
  });
  return {
    child,
    startedAt,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: SpawnCliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** A real HTTP server on 127.0.0.1 port 0 that records when each request arrived, per path. */
export interface TargetServer {
  url: string;
  port: number;
  /** Arrival times (performance.now(), ms) per request path. */
  hits: Map<string, number[]>;
  /** When each TCP connection was accepted (performance.now(), ms). */
  connections: number[];
  count(path: string): number;
  close(): Promise<void>;
}

/** Starts a target; `handler` may answer as it likes (default: 200 "ok"). */
export async function startTarget(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<TargetServer> {
  const hits = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const list = hits.get(path) ?? [];
    list.push(performance.now());
    hits.set(path, list);
    if (handler) handler(req, res);
    else res.end('ok');
  });
  const connections: number[] = [];
  server.on('connection', () => connections.push(performance.now()));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    connections,
    count: (path) => hits.get(path)?.length ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The one polling loop of the tests: `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Registers cleanups (closing servers, listeners) that run, last first, after each test of the calling file. */
export function cleanups(): (...fns: (() => Promise<void>)[]) => void {
  const list: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (list.length) await list.pop()!();
  });
  return (...fns) => void list.push(...fns);
}
