/**
 * Fault injection on process control, through the real CLI: a copy that finds every lock slot busy,
 * a copy killed with SIGKILL, and lock directories that cannot be used (the storm of fifty
 * simultaneous copies is in faults-control.timing.test.ts, run alone). Every test asserts the
 * watchdog (the copy ended by itself, in time) and, where a run happened, balanced books.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, spawnCli, startTarget, waitFor, type AgentHome, type CliProcess, type CliResult, type TargetServer } from '../support/cli.js';
import { copyConfig, mostServingAtOnce, served, skipped, slotOf, summaryTest } from '../support/copies.js';
import { bookOf, expectBooksBalance, expectEndedWithin } from '../support/faults.js';
import { startUdpStatsd } from '../support/listeners.js';

const cleanup = cleanups();

/** End-of-window flush deadline of `run` (FLUSH_DEADLINE_MS), ms. */
const FLUSH_MS = 2_000;
/** Node start-up and set-up of one copy on a busy two-core machine, ms (measured: 0.15–0.5 s). */
const STARTUP_MS = 3_000;
/** A lock-directory fault must end the copy at once: measured 0.14–0.18 s alone. */
const LOCK_FAULT_WITHIN_MS = 2_000;

describe('a copy that finds every lock slot busy', () => {
  it('regression: a copy that finds every slot busy exits without loading undici, the config watcher or the scheduler', async () => {
    const target = await startTarget();
    const sd = await startUdpStatsd();
    cleanup(target.close, sd.close);
    const home = await agentHome();
    const recorder = join(home.dir, 'record-modules.mjs');
    writeFileSync(recorder, RECORD_MODULES);
    const recorded = (out: string) => {
      const { cjs, cpuMs } = JSON.parse(readFileSync(out, 'utf8')) as { cjs: string[]; cpuMs: number };
      const esm = readFileSync(`${out}.esm`, 'utf8').split('\n').filter(Boolean);
      // The bundled CLI (scripts/bundle.mjs) is one file: V8's function log names each module in it
      // (src/control/lock-slots.ts, node_modules/undici/…) the first time it runs, as bundle:/control/lock-slots.js.
      const log = existsSync(`${out}.v8`) ? readFileSync(`${out}.v8`, 'utf8') : '';
      const bundled = [...log.matchAll(/^function,(?:first-execution|interpreter)[^,]*,.*,((?:src|node_modules)\/[^,\n]+)$/gm)].map((m) => `bundle:/${m[1]!.replace(/^src\//, '').replace(/\.ts$/, '.js')}`);
      return { modules: [...cjs, ...esm, ...bundled], cpuMs };
    };
    const withRecorder = (out: string) => ({
      env: { NODE_OPTIONS: `--import=${recorder}`, CANIHAZ_TEST_MODULES_OUT: out, CANIHAZ_NO_COMPILE_CACHE: '1' },
      killAfterMs: 30_000,
      wrap: ['sh', '-c', `exec "$0" --log-function-events --logfile=${out}.v8 --no-logfile-per-isolate "$@"`],
    });

    const holders = [0, 1, 2].map((n) =>
      spawnCli(['run', ...home.args, '--config', copyConfig(home, target, n), '--lifetime', '6', '--log-level', 'info'], n === 0 ? withRecorder(join(home.dir, 'holder.json')) : {}),
    );
    expect(await waitFor(() => holders.every((h) => h.stderr.includes('run started')), 15_000)).toBe(true);

    const out = join(home.dir, 'slotless.json');
    const r = await runCli(['run', ...home.args, '--config', copyConfig(home, target, 9, `statsd://127.0.0.1:${sd.port}`), '--lifetime', '6'], withRecorder(out));
    expect(r.code).toBe(0);
    expect(skipped(r)).toBe(true);
    expectEndedWithin(r, STARTUP_MS, 'a copy that found no slot, alone');
    await sd.waitFor(() => sd.sum('canihaz.agent.skipped') === 1);

    const { modules, cpuMs } = recorded(out);
    console.log(`a copy that found no slot: ${Math.round(r.durationMs)} ms wall, ${Math.round(cpuMs)} ms CPU (with the module recorder), ${modules.length} modules`);
    expect(modules.some((m) => m.includes('/control/lock-slots.js'))).toBe(true); // the recorder sees our modules
    // Counting agent.skipped reads the config, which loads each line's probe type: the http type's
    // modules are initialised (definitions only); undici, the watcher, the scheduler and sinks are not.
    const heavy = [/node_modules\/undici\//, /node_modules\/chokidar\//, /\/schedule\/scheduler\.js$/, /\/control\/watch\.js$/, /\/metrics\/(router|graphite|console)\.js$/];
    expect(modules.filter((m) => heavy.some((h) => h.test(m)))).toEqual([]);

    const holderResults = await Promise.all(holders.map((h) => h.done));
    for (const [n, hr] of holderResults.entries()) {
      expect(hr.code).toBe(0);
      expectEndedWithin(hr, STARTUP_MS + 6_000 + FLUSH_MS, 'a serving copy');
      expectBooksBalance(bookOf(hr.stderr, `c${n}`));
    }
    // A serving copy does load them: the recorder would have seen them on the slot-less one.
    const holderModules = recorded(join(home.dir, 'holder.json')).modules;
    // (http: tests use the client of our own, so undici is not among them: https needs it.)
    for (const h of [/node_modules\/chokidar\//, /\/schedule\/scheduler\.js$/]) expect(holderModules.some((m) => h.test(m))).toBe(true);
  }, 60_000);
});

describe('a copy killed with SIGKILL mid-run', () => {
  it('leaves its slot locked until stale; later copies skip, then one reclaims the slot; never more than three serve', async () => {
    const target = await startTarget();
    cleanup(target.close);
    const home = await agentHome();
    const SURVIVOR_LIFETIME_S = 25;
    const copy = (n: number, lifetime: number): CliProcess =>
      spawnCli(['run', ...home.args, '--config', copyConfig(home, target, n), '--lifetime', String(lifetime), '--log-level', 'info'], { killAfterMs: 60_000 });

    const first = [0, 1, 2].map((n) => copy(n, SURVIVOR_LIFETIME_S));
    expect(await waitFor(() => first.every((c) => c.stderr.includes('run started')), 15_000)).toBe(true);
    const victim = first[0]!;
    const victimSlot = slotOf(victim.stderr);
    expect(victimSlot).toBeTypeOf('number');
    await waitFor(() => target.count('/c0') >= 3, 5_000);
    victim.child.kill('SIGKILL');
    const killedAt = performance.now();
    const killed = await victim.done;
    expect(killed.signal).toBe('SIGKILL');

    // One newcomer at a time, every ~0.5 s, until one serves (bounded: 40 tries).
    const newcomers: CliResult[] = [];
    let reclaimed: { result: CliResult; spawnedAfterKillMs: number } | undefined;
    for (let n = 10; n < 50 && !reclaimed; n++) {
      const c = copy(n, 3);
      const spawnedAfterKillMs = c.startedAt - killedAt;
      const r = await c.done;
      newcomers.push(r);
      expect(r.code).toBe(0);
      if (served(r)) reclaimed = { result: r, spawnedAfterKillMs };
      else {
        expect(skipped(r)).toBe(true);
        expectEndedWithin(r, STARTUP_MS, 'a copy that found no slot');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    expect(reclaimed, 'no newcomer ever got the dead copy\'s slot').toBeDefined();
    const { result, spawnedAfterKillMs } = reclaimed!;
    console.log(`slot ${victimSlot} of a SIGKILLed copy served again by a copy spawned ${(spawnedAfterKillMs / 1000).toFixed(1)} s after the kill; ${newcomers.length - 1} copies skipped before it`);
    // Stale after 10 s without refresh; refreshed every 5 s, so reclaimable 5–11 s after the kill.
    expect(spawnedAfterKillMs).toBeGreaterThanOrEqual(4_000);
    expect(spawnedAfterKillMs).toBeLessThan(20_000);
    expect(newcomers.filter(skipped).length).toBeGreaterThanOrEqual(1);
    expect(slotOf(result.stderr)).toBe(victimSlot);
    expectEndedWithin(result, STARTUP_MS + 3_000 + FLUSH_MS, 'the copy that reclaimed the slot');
    expectBooksBalance(bookOf(result.stderr, summaryTest(result)));

    const survivors = await Promise.all(first.slice(1).map((c) => c.done));
    for (const s of survivors) {
      expect(s.code).toBe(0);
      expectEndedWithin(s, STARTUP_MS + SURVIVOR_LIFETIME_S * 1000 + FLUSH_MS, 'a surviving copy');
      expectBooksBalance(bookOf(s.stderr, summaryTest(s)));
    }
    // The reclaiming copy served while both survivors still did: three at once, never four.
    expect(mostServingAtOnce(target)).toBe(3);
  }, 90_000);
});

describe('lock directory faults (exit 3 at once, naming the directory)', () => {
  async function expectLockDirFault(home: AgentHome, target: TargetServer, lockDir: string, reason: RegExp, what: string): Promise<CliResult> {
    const r = await runCli(['run', ...home.args, '--lock-dir', lockDir, '--lifetime', '5'], { killAfterMs: 10_000 });
    console.log(`lock directory fault (${what}): exit ${r.code} after ${Math.round(r.durationMs)} ms`);
    expectEndedWithin(r, LOCK_FAULT_WITHIN_MS, what);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`lock directory ${lockDir}:`);
    expect(r.stderr).toMatch(reason);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(target.count('/')).toBe(0);
    return r;
  }

  async function setup() {
    const target = await startTarget();
    cleanup(target.close);
    const home = await agentHome();
    await home.writeConfig(`t|http|600|none|url=${target.url}/\n`);
    return { target, home };
  }

  it('creates a missing lock directory (and its parents) and runs', async () => {
    const { target, home } = await setup();
    const lockDir = join(home.dir, 'missing', 'parents', 'lock');
    const r = await runCli(['run', ...home.args, '--lock-dir', lockDir, '--lifetime', '1'], { killAfterMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    expectEndedWithin(r, STARTUP_MS + 1_000 + FLUSH_MS, 'a run with a missing lock directory');
    expect(existsSync(join(lockDir, 'slot-1'))).toBe(true);
    const book = bookOf(r.stderr, 't');
    expectBooksBalance(book);
    expect(book.ok).toBe(target.count('/'));
  });

  it('uncreatable: a parent is a file', async () => {
    const { target, home } = await setup();
    writeFileSync(join(home.dir, 'a-file'), '');
    await expectLockDirFault(home, target, join(home.dir, 'a-file', 'lock'), /a-file exists and is not a directory/, 'lock dir under a file');
  });

  it('the lock directory itself is a file', async () => {
    const { target, home } = await setup();
    writeFileSync(join(home.dir, 'a-file'), '');
    await expectLockDirFault(home, target, join(home.dir, 'a-file'), /it exists and is not a directory/, 'lock dir is a file');
  });

  it('regression: a dangling symlink in the path is named (Node\'s recursive mkdir reports ENOTDIR on another path)', async () => {
    const { target, home } = await setup();
    symlinkSync(join(home.dir, 'gone', 'away'), join(home.dir, 'dangling'));
    await expectLockDirFault(home, target, join(home.dir, 'dangling'), /dangling is a symbolic link to .*gone\/away, which does not exist/, 'dangling symlink');
    const r = await expectLockDirFault(home, target, join(home.dir, 'dangling', 'lock'), /dangling is a symbolic link to .*, which does not exist/, 'under a dangling symlink');
    expect(r.stderr).not.toContain('ENOTDIR');
  });

  it('regression: a lock directory under /proc ends at once with exit 3 (Node\'s recursive mkdir spun there forever at full CPU, deaf to SIGTERM)', async () => {
    const { target, home } = await setup();
    await expectLockDirFault(home, target, '/proc/canihaz-test/lock', /cannot create \/proc\/canihaz-test: its file system does not allow new directories there \(ENOENT\)/, 'under /proc');
    await expectLockDirFault(home, target, '/proc/canihaz-test', /cannot create \/proc\/canihaz-test/, '/proc itself');
  });

  it('a symbolic link loop', async () => {
    const { target, home } = await setup();
    symlinkSync(join(home.dir, 'loop'), join(home.dir, 'loop'));
    await expectLockDirFault(home, target, join(home.dir, 'loop', 'lock'), /too many levels of symbolic links \(ELOOP\)/, 'symlink loop');
  });

  describe('on a read-only mount', () => {
    /** A read-only bind mount of a fresh directory (root only: modes do not stop root), or why not. */
    function readOnlyMount(home: AgentHome): { dir: string } | { skip: string } {
      if (process.getuid?.() !== 0) return { skip: 'needs root for a read-only bind mount (modes do not stop root; a 0555 dir only stops others)' };
      const dir = join(home.dir, 'ro');
      mkdirSync(join(dir, 'existing'), { recursive: true });
      try {
        execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
      } catch (err) {
        return { skip: `mount --bind failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
      }
      cleanup(async () => void execFileSync('umount', [dir], { stdio: 'pipe' }));
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
      } catch (err) {
        return { skip: `remount read-only failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
      }
      return { dir };
    }

    it('an existing lock directory on it: "read-only (EROFS)"', async (ctx) => {
      const { target, home } = await setup();
      const ro = readOnlyMount(home);
      if ('skip' in ro) return ctx.skip(ro.skip);
      await expectLockDirFault(home, target, join(ro.dir, 'existing'), /not writable: the file system is read-only \(EROFS\)/, 'read-only lock dir');
    });

    it('regression: a missing lock directory on it says EROFS (Node\'s recursive mkdir says ENOENT there)', async (ctx) => {
      const { target, home } = await setup();
      const ro = readOnlyMount(home);
      if ('skip' in ro) return ctx.skip(ro.skip);
      const r = await expectLockDirFault(home, target, join(ro.dir, 'new', 'lock'), /cannot create .*\/ro\/new: the file system is read-only \(EROFS\)/, 'missing lock dir on a read-only mount');
      expect(r.stderr).not.toContain('ENOENT');
    });
  });
});

/**
 * A preload (`NODE_OPTIONS=--import=…`) that records every module a copy loads: ESM through a loader
 * hook (appended to `$CANIHAZ_TEST_MODULES_OUT.esm`), CommonJS from require's cache at exit, with the
 * CPU time the copy used, to `$CANIHAZ_TEST_MODULES_OUT`.
 */
const RECORD_MODULES = `
import { createRequire, register } from 'node:module';
import { writeFileSync } from 'node:fs';
const out = process.env.CANIHAZ_TEST_MODULES_OUT;
writeFileSync(out + '.esm', '');
register('data:text/javascript,' + encodeURIComponent(\`
  import { appendFileSync } from 'node:fs';
  export async function load(url, context, next) {
    appendFileSync(\${JSON.stringify(out + '.esm')}, url + '\\\\n');
    return next(url, context);
  }\`));
const require = createRequire(import.meta.url);
process.on('exit', () => {
  const cpu = process.cpuUsage();
  writeFileSync(out, JSON.stringify({ cjs: Object.keys(require.cache), cpuMs: (cpu.user + cpu.system) / 1000 }));
});
`;
