/**
 * Bad input through the real CLI (issue 6 §4): huge, binary, NUL-filled, CRLF, BOM and duplicate
 * files, directories, FIFOs and symlink loops where a file is expected, a file deleted while it is
 * read — and a large valid config. Each case asserts a clear error naming the file (and line), that
 * nothing hangs (every process has a watchdog and must end by itself), that the valid lines beside
 * the garbage still count or run, and, for the big ones, `check`'s wall time and peak RSS (from the
 * child itself, test/support/measured-cli.ts). The large valid config's run is scale.timing.test.ts.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, startTarget, type AgentHome, type CliResult } from '../support/cli.js';
import { bookOf, expectBooksBalance, expectEndedWithin, summaries } from '../support/faults.js';
import { expectEndedOnTime, measuredCliHooks } from '../support/measured-cli.js';

const addCleanup = cleanups();

/** Generous bounds for `check` on the big files: a regression to quadratic time or unbounded output must fail. */
const CHECK_MAX_MS = 15_000;
const CHECK_MAX_RSS_MB = 400;
/** How long a `check` of a small bad file may take before it counts as hanging. */
const SMALL_CHECK_MS = 5_000;

const measuredCli = measuredCliHooks();

/** A valid http line against an address nothing listens on (`check` never connects). */
const line = (name: string, extra = '') => `${name}|http|60|none|url=http://127.0.0.1:9/${name}${extra}`;

/** Asserts that every line `check` wrote to stderr is `FILE:LINE: field: reason` for `file`, and returns the line numbers. */
function expectLineErrors(stderr: string, file: string): number[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  const numbers: number[] = [];
  for (const l of lines) {
    expect(l.startsWith(`${file}:`), `not about ${file}: ${JSON.stringify(l.slice(0, 300))}`).toBe(true);
    // The field is a short name (`frequency`, `url`, `field 5`), never the garbage itself.
    const m = /^:(\d+): ([A-Za-z0-9_. -]{1,40}): ./.exec(l.slice(file.length));
    expect(m, `not FILE:LINE: field: reason: ${JSON.stringify(l.slice(0, 300))}`).not.toBeNull();
    numbers.push(Number(m![1]));
  }
  return numbers;
}

/** Control characters other than tab must never reach the terminal raw (issue 6: quote them). */
function expectNoRawControlBytes(text: string, what: string): void {
  const m = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(text.replaceAll('\n', ''));
  expect(m, `${what}: raw control byte ${JSON.stringify(m?.[0])} near ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 20))}`).toBeNull();
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be reproduced byte for byte. */
function garbage(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An agent home (config, settings, stop file, lock dir in a temp dir), removed after the test. */
async function tempHome(): Promise<AgentHome> {
  const home = await agentHome();
  addCleanup(() => rm(home.dir, { recursive: true, force: true }));
  return home;
}

/** A target that counts requests per path, closed after the test. */
async function target() {
  const t = await startTarget();
  addCleanup(() => t.close());
  return t;
}

/**
 * `canihaz run --lifetime S` on this home (log level info, for its `run started` line), with a
 * watchdog. Asserts the promise: it ends by itself, at most `longestTimeoutMs` (the executions still
 * in flight) + the flush bound after the window it reports; start-up is not part of that promise.
 */
async function runFor(home: AgentHome, seconds: number, extraArgs: string[] = [], longestTimeoutMs = 0): Promise<CliResult> {
  const r = await runCli(['run', ...home.args, ...extraArgs, '--lifetime', String(seconds), '--log-level', 'info'], { killAfterMs: 20_000 + seconds * 1_000 });
  const exitedWall = Date.now();
  expectEndedWithin(r, 15_000 + seconds * 1_000, `run --lifetime ${seconds}`);
  expectEndedOnTime(r.stderr, exitedWall, longestTimeoutMs, `run --lifetime ${seconds}`);
  return r;
}

describe('canihaz check on big files: time and memory stay bounded', () => {
  it('100,000 lines: every valid line counted, the bad ones named by line, < 15 s and < 400 MB', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    // At 5/min each the 99,998 valid tests total 499,990/min, under the default max_total_rate (600,000).
    const lines = Array.from({ length: 100_000 }, (_, i) => `t${String(i + 1).padStart(6, '0')}|http|5|none|url=http://127.0.0.1:9/t${i + 1}`);
    lines[49_999] = 'bad|http|sixty|none|url=http://127.0.0.1:9/';
    lines[99_998] = 'worse|http|60|nowhere|url=http://127.0.0.1:9/';
    await home.writeConfig(lines.join('\n') + '\n');
    const r = await measuredCli(['check', ...home.args], 30_000);
    console.log(`check, 100,000 lines (2 bad): ${Math.round(r.durationMs)} ms wall, ${r.cpuSeconds.toFixed(2)} s CPU, peak RSS ${r.rssMb.toFixed(0)} MB`);
    expectEndedWithin(r, CHECK_MAX_MS, 'check on 100,000 lines');
    expect(r.rssMb).toBeLessThan(CHECK_MAX_RSS_MB);
    expect(expectLineErrors(r.stderr, home.config)).toEqual([50_000, 99_999]);
    expect(r.stdout.trim()).toBe('2 problems; 99998 valid tests');
    expect(r.code).toBe(1);
  });

  it('100,000 bad lines: every one reported, in order, through a pipe; < 15 s and < 400 MB', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    const lines = Array.from({ length: 100_000 }, (_, i) => `t${i}|http|often|none|url=http://127.0.0.1:9/`);
    await home.writeConfig(lines.join('\n'));
    const r = await measuredCli(['check', ...home.args], 30_000);
    console.log(`check, 100,000 bad lines: ${Math.round(r.durationMs)} ms wall, ${r.cpuSeconds.toFixed(2)} s CPU, peak RSS ${r.rssMb.toFixed(0)} MB, ${r.stderr.length} bytes of errors`);
    expectEndedWithin(r, CHECK_MAX_MS, 'check on 100,000 bad lines');
    expect(r.rssMb).toBeLessThan(CHECK_MAX_RSS_MB);
    const numbers = expectLineErrors(r.stderr, home.config);
    expect(numbers.length).toBe(100_000);
    expect(numbers.every((n, i) => n === i + 1)).toBe(true);
    expect(r.stdout.trim()).toBe('100000 problems; 0 valid tests');
    expect(r.code).toBe(1);
  });

  it('a 1 MB line: one error naming the line, quoted and truncated, and the valid line beside it counted', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    const huge = `huge|http|${'9x'.repeat(512 * 1024)}|none|url=http://127.0.0.1:9/`;
    await home.writeConfig(`${line('before')}\n${huge}\n${line('after')}\n`);
    const r = await measuredCli(['check', ...home.args], 30_000);
    console.log(`check, a 1 MB line: ${Math.round(r.durationMs)} ms wall, ${r.cpuSeconds.toFixed(2)} s CPU, peak RSS ${r.rssMb.toFixed(0)} MB, ${r.stderr.length} bytes of errors`);
    expectEndedWithin(r, CHECK_MAX_MS, 'check on a 1 MB line');
    expect(r.rssMb).toBeLessThan(CHECK_MAX_RSS_MB);
    expect(expectLineErrors(r.stderr, home.config)).toEqual([2]);
    expect(r.stderr).toContain(`${home.config}:2: frequency: `);
    // An echoed value is truncated: the whole report stays small however long the line.
    expect(r.stderr.length).toBeLessThan(2_000);
    expect(r.stdout.trim()).toBe('1 problem; 2 valid tests');
    expect(r.code).toBe(1);
  });

  it('a 1 MB line with no separator at all: one error naming the line, and the rest counted', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    await home.writeConfig(`${line('before')}\n${'x'.repeat(1024 * 1024)}\n${line('after')}\n`);
    const r = await measuredCli(['check', ...home.args], 30_000);
    expectEndedWithin(r, CHECK_MAX_MS, 'check on a 1 MB unseparated line');
    expect(r.rssMb).toBeLessThan(CHECK_MAX_RSS_MB);
    expect(expectLineErrors(r.stderr, home.config)).toEqual([2]);
    expect(r.stderr.length).toBeLessThan(2_000);
    expect(r.stdout.trim()).toBe('1 problem; 2 valid tests');
  });
});

describe('canihaz check and run on garbage: clear errors, the valid lines still run', () => {
  it('binary garbage: every error names the file and a line, no raw control bytes, the valid lines run', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    const t = await target();
    const good = (name: string) => `${name}|http|60|none|url=${t.url}/${name}`;
    await writeFile(home.config, Buffer.concat([Buffer.from(`${good('first')}\n`), garbage(256 * 1024, 0xc0ffee), Buffer.from(`\n${good('last')}\n`)]));
    const r = await measuredCli(['check', ...home.args], 30_000);
    console.log(`check, 256 KiB of binary garbage: ${Math.round(r.durationMs)} ms wall, peak RSS ${r.rssMb.toFixed(0)} MB, ${r.stderr.length} bytes of errors`);
    expectEndedWithin(r, CHECK_MAX_MS, 'check on binary garbage');
    const numbers = expectLineErrors(r.stderr, home.config);
    expect(numbers.length).toBeGreaterThan(100);
    expect(numbers.every((n, i) => i === 0 || n >= numbers[i - 1]!), 'line numbers in order').toBe(true);
    expect(r.stdout.trim()).toMatch(/^\d+ problems; 2 valid tests$/);
    expectNoRawControlBytes(r.stderr, 'check on binary garbage');

    const run = await runFor(home, 2);
    for (const name of ['first', 'last']) {
      const book = bookOf(run.stderr, name);
      expectBooksBalance(book);
      expect(book).toMatchObject({ requested: 2, ok: 2, failed: 0 });
      expect(t.count(`/${name}`), `target's count for ${name}`).toBe(2);
    }
    expect(summaries(run.stderr).map((b) => b.test).sort()).toEqual(['first', 'last']);
  });

  it('NUL bytes: lines with NULs are rejected by line (the NUL quoted), the valid lines still count', async () => {
    const home = await tempHome();
    await home.writeConfig(
      [
        line('good'),
        `nul\0name|http|60|none|url=http://127.0.0.1:9/`,
        `freq|http|6\u00000|none|url=http://127.0.0.1:9/`,
        `host|http|60|none|url=http://127.0.0\u0000.1:9/`,
        '\0'.repeat(64 * 1024),
        line('also-good'),
      ].join('\n'),
    );
    const r = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on NUL bytes');
    expect(expectLineErrors(r.stderr, home.config)).toEqual([2, 3, 4, 5]);
    expect(r.stderr).toContain(`${home.config}:2: name: `);
    expect(r.stderr).toContain(`${home.config}:3: frequency: `);
    expect(r.stderr).toContain(`${home.config}:4: url: `);
    expectNoRawControlBytes(r.stderr, 'check on NUL bytes');
    expect(r.stdout.trim()).toBe('4 problems; 2 valid tests');
  });

  it('CRLF line ends: accepted, and errors name the right line without a stray CR', async () => {
    const home = await tempHome();
    await home.writeConfig([line('a'), '# comment', '', 'b|http|x|none|url=http://127.0.0.1:9/', line('c')].join('\r\n') + '\r\n');
    const r = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on CRLF');
    expect(r.stderr).toBe(`${home.config}:4: frequency: expected a whole number of executions per minute, got "x"\n`);
    expect(r.stdout.trim()).toBe('1 problem; 2 valid tests');
  });

  it('lone CR line ends (old Mac files): each CR ends a line, so errors name the right line', async () => {
    const home = await tempHome();
    await home.writeConfig([line('a'), 'b|http|x|none|url=http://127.0.0.1:9/', line('c')].join('\r') + '\r');
    const r = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on lone CRs');
    expect(r.stderr).toBe(`${home.config}:2: frequency: expected a whole number of executions per minute, got "x"\n`);
    expect(r.stdout.trim()).toBe('1 problem; 2 valid tests');
  });

  it('binary garbage in the settings file: every error names it and a line, quoted; check still reads the config', async () => {
    const home = await tempHome();
    await home.writeConfig(`${line('a')}\n`);
    await writeFile(home.settings, Buffer.concat([Buffer.from('prefix = fine\n'), garbage(64 * 1024, 0xbadf00d), Buffer.from('\nlog_level = info\n')]));
    const r = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on a garbage settings file');
    expect(expectLineErrors(r.stderr, home.settings).length).toBeGreaterThan(10);
    expectNoRawControlBytes(r.stderr, 'check on a garbage settings file');
    expect(r.stdout.trim()).toMatch(/^\d+ problems; 1 valid test$/);
    expect(r.code).toBe(1);
  });

  it('secrets in URL userinfo, query tokens and header values never reach check or run output', { timeout: 30_000 }, async () => {
    const home = await tempHome();
    const t = await target();
    const secret = 's3cr3tQ7xZpL2mN8vB4k';
    await home.writeConfig(
      [
        `good|http|60|none|url=${t.url}/good`,
        `a|http|60|none|url=http://user:${secret}@bad host/`,
        `b|http|60|none|url=http://bad host/?token=${secret}`,
        `c|http|60|none|url=${t.url}/|header=Authorization: Bearer ${secret}\u0001`,
        `d|http|60|none|url=${t.url}/|Authorization: Bearer ${secret}`,
        `e|http|60|statsd://user:${secret}@h:8125|url=${t.url}/`,
        `f|http|often|none|url=${t.url}/?access_token=${secret}`,
      ].join('\n'),
    );
    await writeFile(home.settings, `graphite = user:${secret}@h:2003\n`);
    const r = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expect(expectLineErrors(r.stderr.split('\n').filter((l) => !l.startsWith(home.settings)).join('\n'), home.config)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(r.stderr).toContain(`${home.settings}:1: graphite: `);
    expect(r.stdout + r.stderr).not.toContain(secret);
    const run = await runFor(home, 1);
    expect(run.stderr).toContain('config line skipped');
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(bookOf(run.stderr, 'good')).toMatchObject({ requested: 1, ok: 1 });
  });

  it('a BOM: accepted at the start of a tests file and of a settings file, and never echoed', async () => {
    const home = await tempHome();
    await home.writeConfig(`\uFEFF${line('a')}\n`);
    await writeFile(home.settings, '\uFEFFprefix = bom\n');
    const clean = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expect(clean.stderr).toBe('');
    expect(clean.stdout.trim()).toBe('ok: 1 test in 1 file');
    await home.writeConfig('\uFEFFa|http|x|none|url=http://127.0.0.1:9/\n');
    await writeFile(home.settings, '\uFEFFbogus = 1\n');
    const bad = await runCli(['check', ...home.args], { killAfterMs: 20_000 });
    expect(bad.stderr).not.toContain('\uFEFF');
    expect(bad.stderr).toContain(`${home.settings}:1: bogus: unknown setting`);
    expect(bad.stderr).toContain(`${home.config}:1: frequency: `);
  });

  it('duplicate names, in one file and across the files of a directory: the first one kept, the others named with where the first is', async () => {
    const home = await tempHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir);
    await writeFile(join(dir, 'a.conf'), `${line('one')}\n${line('two')}\n${line('one')}\n`);
    await writeFile(join(dir, 'b.conf'), `${line('two')}\n${line('three')}\n`);
    const r = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: 20_000 });
    expect(r.stderr.trim().split('\n')).toEqual([
      `${join(dir, 'a.conf')}:3: name: "one" is already used at ${join(dir, 'a.conf')}:1`,
      `${join(dir, 'b.conf')}:1: name: "two" is already used at ${join(dir, 'a.conf')}:2`,
    ]);
    expect(r.stdout.trim()).toBe('2 problems; 3 valid tests');
  });
});

describe('something else where a file is expected', () => {
  it('a config directory with no *.conf: zero tests from zero files, said plainly (an empty config directory is valid)', async () => {
    const home = await tempHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(join(dir, 'sub.conf'), { recursive: true });
    await writeFile(join(dir, 'tests.txt'), `${line('a')}\n`);
    await writeFile(join(dir, '.hidden.conf'), `${line('b')}\n`);
    const r = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on an empty config directory');
    expect(r.stdout.trim()).toBe('ok: 0 tests in 0 files');
    expect(r.code).toBe(0);
  });

  it('a settings path that is a directory: exit 2, naming it', async () => {
    const home = await tempHome();
    await home.writeConfig(`${line('a')}\n`);
    const dir = join(home.dir, 'settings.d');
    await mkdir(dir);
    const r = await runCli(['check', ...home.args, '--settings', dir], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check with a directory as settings');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(dir);
    expect(r.stderr).toMatch(/directory/i);
    expect(r.stderr).not.toContain('internal error');
  });

  it('a symlink loop as the config: exit 2 naming it; as a *.conf in a directory: named, and the other files still count', async () => {
    const home = await tempHome();
    const loopA = join(home.dir, 'loop-a');
    const loopB = join(home.dir, 'loop-b');
    await symlink(loopB, loopA);
    await symlink(loopA, loopB);
    const r = await runCli(['check', ...home.args, '--config', loopA], { killAfterMs: 20_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on a symlink loop');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(loopA);
    expect(r.stderr).not.toContain('internal error');

    const dir = join(home.dir, 'conf.d');
    await mkdir(dir);
    await writeFile(join(dir, 'a.conf'), `${line('a')}\n`);
    await symlink(join(dir, 'y.conf'), join(dir, 'x.conf'));
    await symlink(join(dir, 'x.conf'), join(dir, 'y.conf'));
    const d = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: 20_000 });
    expectEndedWithin(d, SMALL_CHECK_MS, 'check on a directory with a symlink loop');
    expect(d.stderr).toContain(join(dir, 'x.conf'));
    expect(d.stderr).toContain(join(dir, 'y.conf'));
    expect(d.stdout.trim()).toMatch(/^2 problems; 1 valid test$/);
    // A *.conf that cannot be read makes the whole check "unreadable" (exit 2), not merely invalid.
    expect(d.code).toBe(2);
  });
});

describe('a FIFO where a file is expected is refused without opening it (issue 6 §0: it hung check and run)', () => {
  async function fifo(path: string): Promise<void> {
    execFileSync('mkfifo', [path]);
  }

  it('a FIFO as the config: check exits 2 at once, naming it', async () => {
    const home = await tempHome();
    await fifo(home.config);
    const r = await runCli(['check', ...home.args], { killAfterMs: 15_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on a FIFO');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(home.config);
  });

  it('a FIFO as the config: run --lifetime 2 ends on time and says why', { timeout: 30_000 }, async () => {
    const home = await tempHome();
    await fifo(home.config);
    const r = await runFor(home, 2);
    expect(r.stderr).toContain(home.config);
  });

  it('a FIFO as the settings file: check exits at once, naming it', async () => {
    const home = await tempHome();
    await home.writeConfig(`${line('a')}\n`);
    const settings = join(home.dir, 'settings.fifo');
    await fifo(settings);
    const r = await runCli(['check', ...home.args, '--settings', settings], { killAfterMs: 15_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check with a FIFO as settings');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(settings);
  });

  it('a FIFO (and a *.conf symlink to one) in a config directory: named; the other file still counts for check and runs for run', { timeout: 30_000 }, async () => {
    const home = await tempHome();
    const t = await target();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir);
    await writeFile(join(dir, 'a.conf'), `ok|http|60|none|url=${t.url}/ok\n`);
    await fifo(join(dir, 'b.conf'));
    await fifo(join(home.dir, 'elsewhere.fifo'));
    await symlink(join(home.dir, 'elsewhere.fifo'), join(dir, 'c.conf'));
    const r = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: 15_000 });
    expectEndedWithin(r, SMALL_CHECK_MS, 'check on a directory with a FIFO');
    expect(r.stderr).toContain(join(dir, 'b.conf'));
    expect(r.stderr).toContain(join(dir, 'c.conf'));
    expect(r.stdout.trim()).toMatch(/; 1 valid test$/);
    expect(r.code).toBe(2);

    const run = await runFor(home, 2, ['--config', dir]);
    expect(run.stderr).toContain(join(dir, 'b.conf'));
    const book = bookOf(run.stderr, 'ok');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 2, ok: 2 });
    expect(t.count('/ok')).toBe(2);
  });
});

describe('a file deleted between stat and read', () => {
  /**
   * Keeps deleting and re-creating `file` (bounded: at most `maxMs` or 5,000 turns) until `stop()`
   * is called; returns how many times it deleted it.
   */
  function flap(file: string, text: string, maxMs = 20_000) {
    let stopped = false;
    let turns = 0;
    const until = Date.now() + maxMs;
    const done = (async () => {
      while (!stopped && Date.now() < until && turns < 5_000) {
        await writeFile(file, text);
        await rm(file, { force: true });
        turns++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await done;
        return turns;
      },
    };
  }

  it('check while a *.conf keeps vanishing: never a crash, the stable file always counted', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir);
    await writeFile(join(dir, 'a.conf'), `${line('stable')}\n`);
    const flapper = flap(join(dir, 'b.conf'), `${line('flapping')}\n`);
    const outcomes = new Set<string>();
    try {
      for (let i = 0; i < 12; i++) {
        const r = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: 15_000 });
        expectEndedWithin(r, SMALL_CHECK_MS, `check #${i} on a flapping directory`);
        expect(r.stderr, `check #${i}`).not.toMatch(/internal error|ENOENT|at .*\.js:\d+/);
        expect([0, 1], `check #${i}: ${r.stdout} ${r.stderr}`).toContain(r.code);
        expect(r.stdout.trim(), `check #${i}`).toMatch(/^ok: [12] tests? in [12] files?$|; [12] valid tests?$/);
        outcomes.add(r.stdout.trim());
      }
    } finally {
      const turns = await flapper.stop();
      expect(turns).toBeGreaterThan(12);
    }
  });

  it('run while a *.conf keeps vanishing: the stable test runs its exact count, the run ends on time', { timeout: 60_000 }, async () => {
    const home = await tempHome();
    const t = await target();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir);
    await writeFile(join(dir, 'a.conf'), `stable|http|60|none|url=${t.url}/stable\n`);
    // The flapping file is mostly absent, so its test starts and stops; only the stable one is counted exactly.
    const flapper = flap(join(dir, 'b.conf'), `flapping|http|60|none|url=${t.url}/flapping\n`);
    let r: CliResult;
    try {
      r = await runFor(home, 3, ['--config', dir]);
    } finally {
      await flapper.stop();
    }
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/internal error|a bug/);
    const book = bookOf(r.stderr, 'stable');
    expectBooksBalance(book);
    expect(book).toMatchObject({ requested: 3, ok: 3, failed: 0 });
    expect(t.count('/stable')).toBe(3);
    for (const b of summaries(r.stderr)) expectBooksBalance(b);
  });
});
