import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { daemonCommand } from '../../src/commands/daemon.js';
import { ExitCode } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { waitFor as poll } from '../support/cli.js';

const HARNESS = fileURLToPath(new URL('../support/run-daemon.mjs', import.meta.url));
const FAKE_RUN = fileURLToPath(new URL('../support/fake-run.mjs', import.meta.url));
const COMPILED = fileURLToPath(new URL('../../dist/commands/daemon.js', import.meta.url));
const RUN_ARGS = ['--config', '/x/tests.conf', '--log-level', 'debug'];

type LogLine = { ts: string; level: string; msg: string; pid?: number; code?: number; signal?: string; tick?: string };
type FakeEvent = { pid: number; event: 'start' | 'sigterm'; at: number; args?: string[] };

/** A daemon in its own process (test/support/run-daemon.mjs) ticking every second, with fake runs. */
interface Daemon {
  child: ChildProcess;
  logs: LogLine[];
  events(): FakeEvent[];
  /** Sends SIGTERM (to the daemon's whole process group with `group`); resolves with its exit and how long it took. */
  stop(options?: { group?: boolean }): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const daemons: Daemon[] = [];

beforeAll(() => {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run "npm run build" first (npm test does)`);
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Runs are detached from the daemon's process group: after a failed test, end any left behind.
  for (const d of daemons.splice(0)) {
    for (const e of starts(d)) {
      try {
        process.kill(e.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startDaemon(mode: 'sleep' | 'crash' | 'stubborn', stopTimeoutMs: number): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-daemon-'));
  dirs.push(dir);
  const eventsFile = join(dir, 'runs.jsonl');
  const child = spawn(process.execPath, [HARNESS, FAKE_RUN, String(stopTimeoutMs), ...RUN_ARGS], {
    stdio: ['ignore', 'inherit', 'pipe'],
    detached: true, // its own process group, so a test can signal the group as a terminal or `timeout` would
    env: { ...process.env, FAKE_RUN_LOG: eventsFile, FAKE_RUN_MODE: mode },
  });
  children.push(child);
  const logs: LogLine[] = [];
  createInterface({ input: child.stderr }).on('line', (text) => {
    if (text.startsWith('{')) logs.push(JSON.parse(text) as LogLine);
    else process.stderr.write(`[daemon] ${text}\n`);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(() => logs.some((l) => l.msg === 'daemon started'), 5_000, 'daemon started');
  const daemon: Daemon = {
    child,
    logs,
    events: () =>
      existsSync(eventsFile)
        ? readFileSync(eventsFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as FakeEvent)
        : [],
    async stop({ group = false } = {}) {
      const t0 = Date.now();
      if (group) process.kill(-child.pid!, 'SIGTERM');
      else child.kill('SIGTERM');
      const result = await exited;
      return { ...result, ms: Date.now() - t0 };
    },
  };
  daemons.push(daemon);
  return daemon;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  if (!(await poll(check, timeoutMs, 50))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const starts = (d: Daemon) => d.events().filter((e) => e.event === 'start');

describe('canihaz daemon (real processes)', () => {
  it('starts a run every tick with the forwarded args, and on SIGTERM forwards it and exits 0', async () => {
    const d = await startDaemon('sleep', 5_000);
    await waitFor(() => starts(d).length >= 3, 6_000, 'three runs');
    await delay(300); // let runs spawned at the latest tick install their SIGTERM handler
    const startedBeforeStop = starts(d).map((e) => e.pid);
    const { code, signal, ms } = await d.stop();

    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(3_000);
    for (const e of starts(d)) expect(e.args).toEqual(['run', ...RUN_ARGS]);

    // About once per second: consecutive ticks 1 s apart, and spawned about 1 s apart.
    const spawned = d.logs.filter((l) => l.msg === 'run started');
    expect(spawned.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < spawned.length; i++) {
      expect(Date.parse(spawned[i]!.tick!) - Date.parse(spawned[i - 1]!.tick!)).toBe(1_000);
      const gap = Date.parse(spawned[i]!.ts) - Date.parse(spawned[i - 1]!.ts);
      expect(gap).toBeGreaterThan(500);
      expect(gap).toBeLessThan(1_600);
    }

    // Every run that was up got SIGTERM; every spawned run's exit was logged.
    const termed = new Set(d.events().filter((e) => e.event === 'sigterm').map((e) => e.pid));
    for (const pid of startedBeforeStop) expect(termed.has(pid)).toBe(true);
    const exits = d.logs.filter((l) => l.msg === 'run exited');
    expect(exits.map((l) => l.pid).sort()).toEqual(spawned.map((l) => l.pid).sort());
    for (const l of exits) expect(l.code === 0 || l.signal === 'SIGTERM').toBe(true);
    expect(d.logs.at(-1)?.msg).toBe('daemon stopped');
  }, 10_000);

  it('runs get SIGTERM exactly once when the daemon\'s whole process group is signalled', async () => {
    const d = await startDaemon('sleep', 5_000);
    await waitFor(() => starts(d).length >= 2, 5_000, 'two runs');
    await delay(300);
    const startedBeforeStop = starts(d).map((e) => e.pid);
    const { code } = await d.stop({ group: true });

    expect(code).toBe(0);
    const termCounts = new Map<number, number>();
    for (const e of d.events()) if (e.event === 'sigterm') termCounts.set(e.pid, (termCounts.get(e.pid) ?? 0) + 1);
    for (const pid of startedBeforeStop) expect(termCounts.get(pid), `SIGTERMs seen by run ${pid}`).toBe(1);
  }, 10_000);

  it('keeps going when runs crash, logging each failure', async () => {
    const d = await startDaemon('crash', 5_000);
    await waitFor(() => d.logs.filter((l) => l.msg === 'run exited').length >= 3, 6_000, 'three crashed runs');
    expect(d.child.exitCode).toBeNull();
    const { code, ms } = await d.stop();

    expect(code).toBe(0);
    expect(ms).toBeLessThan(3_000);
    const exits = d.logs.filter((l) => l.msg === 'run exited');
    expect(exits.length).toBeGreaterThanOrEqual(3);
    for (const l of exits.filter((x) => x.code !== null && x.code !== undefined)) expect(l).toMatchObject({ level: 'warn', code: 3 });
  }, 10_000);

  it('kills runs that ignore SIGTERM once stopTimeoutMs has passed, then exits 0', async () => {
    const d = await startDaemon('stubborn', 1_000);
    await waitFor(() => starts(d).length >= 1, 4_000, 'one run');
    await delay(300);
    const { code, ms } = await d.stop();

    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4_000);
    expect(d.events().some((e) => e.event === 'sigterm')).toBe(true);
    expect(d.logs.some((l) => l.msg === 'runs still alive: killing them')).toBe(true);
    expect(d.logs.filter((l) => l.msg === 'run exited' && l.signal === 'SIGKILL').length).toBeGreaterThanOrEqual(1);
  }, 10_000);
});

describe('daemonCommand options', () => {
  it('rejects a bad schedule with E_USAGE', async () => {
    await expect(daemonCommand({ runArgs: [], logger: silentLogger, clock: systemClock, schedule: 'every minute' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('every minute'),
    });
  });

  it('stops when its AbortSignal fires, leaving no signal listeners behind', async () => {
    const before = process.listenerCount('SIGTERM');
    const controller = new AbortController();
    const done = daemonCommand({ runArgs: [], logger: silentLogger, clock: systemClock, cliPath: FAKE_RUN, signal: controller.signal });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    controller.abort();
    expect(await done).toBe(ExitCode.OK);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
