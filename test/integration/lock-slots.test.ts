import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireSlot, DEFAULT_STALE_MS } from '../../src/control/lock-slots.js';
import { CanihazError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

const HOLDER = fileURLToPath(new URL('../support/hold-slot.mjs', import.meta.url));
const COMPILED = fileURLToPath(new URL('../../dist/control/lock-slots.js', import.meta.url));

type Line = { slot?: number | null; waitedMs?: number; released?: number; error?: string; message?: string; compromised?: string };

/** A real process running test/support/hold-slot.mjs against the compiled module. */
interface Holder {
  child: ChildProcess;
  /** The next JSON line it prints. */
  next(timeoutMs?: number): Promise<Line>;
  /** Closes its stdin (it exits) and waits for the exit. */
  close(): Promise<void>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

beforeAll(() => {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run "npm run build" first (npm test does)`);
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'canihaz-slots-'));
  dirs.push(d);
  return d;
}

function startHolder(dir: string, ...args: string[]): Holder {
  const child = spawn(process.execPath, [HOLDER, dir, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  child.stdin.on('error', () => {}); // EPIPE when it has already exited
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const queue: Line[] = [];
  const waiters: ((l: Line) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  return {
    child,
    next(timeoutMs = 5_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`holder ${child.pid} printed nothing in ${timeoutMs} ms`)), timeoutMs);
        waiters.push((l) => {
          clearTimeout(t);
          resolve(l);
        });
      });
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}

describe('lock slots (real processes)', () => {
  it('lets exactly 3 of 5 simultaneous processes in; a released slot is free at once', async () => {
    const dir = tempDir();
    const holders = Array.from({ length: 5 }, () => startHolder(dir));
    const results = await Promise.all(holders.map((h) => h.next()));

    const won = results.map((r) => r.slot).filter((s): s is number => typeof s === 'number');
    expect(won.sort()).toEqual([1, 2, 3]);
    expect(results.filter((r) => r.slot === null)).toHaveLength(2);

    // Release the holder of slot 2 (it keeps running): a newcomer gets slot 2 right away.
    const holderOf2 = holders[results.findIndex((r) => r.slot === 2)]!;
    holderOf2.child.stdin!.write('release\n');
    expect(await holderOf2.next()).toEqual({ released: 2 });
    const newcomer = startHolder(dir);
    expect((await newcomer.next()).slot).toBe(2);

    // Now full again.
    const late = startHolder(dir);
    expect((await late.next()).slot).toBeNull();

    await Promise.all([...holders, newcomer, late].map((h) => h.close()));
  });

  it('frees a slot when its holder exits normally', async () => {
    const dir = tempDir();
    const holders = [startHolder(dir), startHolder(dir), startHolder(dir)];
    expect((await Promise.all(holders.map((h) => h.next()))).map((r) => r.slot).sort()).toEqual([1, 2, 3]);
    await holders[0]!.close();
    const next = startHolder(dir);
    expect((await next.next()).slot).toBeTypeOf('number');
    await Promise.all([...holders.slice(1), next].map((h) => h.close()));
  });

  it('reclaims the slot of a SIGKILLed holder once its lock is stale (< 20 s)', async () => {
    const dir = tempDir();
    const holders = [startHolder(dir), startHolder(dir), startHolder(dir)];
    const slots = (await Promise.all(holders.map((h) => h.next()))).map((r) => r.slot);
    expect(slots.sort()).toEqual([1, 2, 3]);

    const victim = holders[0]!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));

    // Right after the kill the dead holder's slot is still held: SIGKILL runs no cleanup.
    const early = startHolder(dir);
    expect((await early.next()).slot).toBeNull();

    const waiter = startHolder(dir, '--poll-ms', '100');
    const got = await waiter.next(25_000);
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`slot of a SIGKILLed holder reused after ${seconds.toFixed(1)} s (staleMs ${DEFAULT_STALE_MS})`);
    expect(got.slot).toBeTypeOf('number');
    expect(seconds).toBeLessThan(20);
    // Not before the lock could have gone stale: the holder refreshed it at most staleMs/2 before the kill.
    expect(seconds).toBeGreaterThanOrEqual(DEFAULT_STALE_MS / 2 / 1000 - 0.5);

    // The survivors were not disturbed.
    await Promise.all([...holders.slice(1), early, waiter].map((h) => h.close()));
  }, 30_000);

  it('raises E_LOCK naming the directory when it cannot be created', async () => {
    const base = tempDir();
    const file = join(base, 'a-file');
    writeFileSync(file, '');
    const dir = join(file, 'locks');
    const attempt = acquireSlot({ dir, logger: silentLogger, onCompromised: () => {} });
    await expect(attempt).rejects.toBeInstanceOf(CanihazError);
    await expect(attempt).rejects.toMatchObject({ code: 'E_LOCK', message: expect.stringContaining(dir) });
    await expect(attempt).rejects.toThrow(`${file} exists and is not a directory`);
  });

  it('raises E_LOCK from a child process too (the compiled module)', async () => {
    const base = tempDir();
    writeFileSync(join(base, 'a-file'), '');
    const h = startHolder(join(base, 'a-file', 'locks'));
    const line = await h.next();
    expect(line.error).toBe('E_LOCK');
    expect(line.message).toContain(join(base, 'a-file', 'locks'));
  });

  it('creates a missing directory, hands out slots in order, and release is idempotent', async () => {
    const dir = join(tempDir(), 'nested', 'locks');
    const options = { dir, logger: silentLogger, onCompromised: () => {} };
    const a = await acquireSlot(options);
    const b = await acquireSlot(options);
    expect([a?.slot, b?.slot]).toEqual([1, 2]);
    expect(existsSync(join(dir, 'slot-1'))).toBe(true);
    await a!.release();
    await a!.release();
    const c = await acquireSlot(options);
    expect(c?.slot).toBe(1);
    await Promise.all([b!.release(), c!.release()]);
  });

  it('rejects a staleMs below 10 s', async () => {
    await expect(acquireSlot({ dir: tempDir(), staleMs: 2_000, logger: silentLogger, onCompromised: () => {} })).rejects.toThrow(
      /Expected `staleMs` to be at least 10000, got 2000/,
    );
  });
});
