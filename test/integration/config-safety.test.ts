/**
 * Issue 6: what a bad config file must never do to `run` — hang it (a FIFO, a symlink loop, a FIFO
 * renamed over the config mid-run), leak a secret into its log, or run a config that someone else
 * could have changed (strict_modes). Real CLI processes, real FIFOs (mkfifo), a real target on
 * 127.0.0.1; every process is killed by a watchdog, so a regression fails instead of hanging.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, spawnCli, startTarget, waitFor, type TargetServer } from '../support/cli.js';
import { expectBooksBalance, expectEndedWithin, summaries } from '../support/faults.js';

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  return t;
}

/** The harness kills any copy still alive after this; the assertions below are far tighter. */
const KILL_AFTER_MS = 20_000;
/** A `--lifetime 2` run ends within its window, set-up (well under 2 s on a loaded 2-core box) and the flush bound. */
const LIFETIME_2_ENDS_WITHIN_MS = 2_000 + 2_000 + 2_000;

/** The window end the run itself reports (its `run started` line, at log level info). */
function windowEnd(stderr: string): number {
  return Date.parse(/msg="run started" .*window_end=(\S+)/.exec(stderr)![1]!);
}

// Regression (issue 6): "A FIFO as the tests file (or a *.conf symlink to one, or the settings file,
// or a FIFO renamed over the config mid-run) hangs check and run forever".
describe('a FIFO as the tests file hangs check and run forever — no more', () => {
  it('run --lifetime 2 with a FIFO as the tests file: says why, runs nothing, ends on time', async () => {
    const home = await agentHome();
    execFileSync('mkfifo', [home.config]);
    const r = await runCli(['run', ...home.args, '--lifetime', '2', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expectEndedWithin(r, LIFETIME_2_ENDS_WITHIN_MS, 'run with a FIFO config');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`cannot read config: ${home.config}: is a FIFO (named pipe), not a regular file; refused`);
    expect(Date.now() - windowEnd(r.stderr)).toBeLessThan(2_500);
  });

  it('the stop file still stops a run whose config is a FIFO, within 500 ms', async () => {
    const home = await agentHome();
    execFileSync('mkfifo', [home.config]);
    const cli = spawnCli(['run', ...home.args, '--lifetime', '30', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => cli.stderr.includes('run started'), 5_000)).toBe(true);
    const stopAt = performance.now();
    await writeFile(home.stopFile, '');
    const r = await cli.done;
    expectEndedWithin(r, 500, 'stop with a FIFO config', stopAt - cli.startedAt);
    expect(r.code).toBe(0);
  });

  it('run with a FIFO as the settings file exits 2 at once, naming it', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|none|url=http://127.0.0.1:1/\n');
    const fifo = join(home.dir, 'settings-fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['run', ...home.args, '--settings', fifo, '--lifetime', '2'], { killAfterMs: KILL_AFTER_MS });
    expectEndedWithin(r, 2_000, 'run with a FIFO settings file');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`canihaz: settings file ${fifo}: is a FIFO (named pipe), not a regular file; refused`);
  });

  it('a config directory with a *.conf symlink to a FIFO, a symlink loop and a FIFO: the good file runs, the others are reported', async () => {
    const server = await target();
    const home = await agentHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir, { mode: 0o755 });
    await writeFile(join(dir, 'a.conf'), `a|http|600|none|url=${server.url}/a\n`);
    execFileSync('mkfifo', [join(home.dir, 'pipe')]);
    await symlink(join(home.dir, 'pipe'), join(dir, 'b.conf'));
    await symlink(join(dir, 'c.conf'), join(dir, 'c.conf'));
    execFileSync('mkfifo', [join(dir, 'd.conf')]);
    const r = await runCli(['run', ...home.args, '--config', dir, '--lifetime', '2'], { killAfterMs: KILL_AFTER_MS });
    expectEndedWithin(r, LIFETIME_2_ENDS_WITHIN_MS, 'run with FIFOs in the config directory');
    expect(r.code).toBe(0);
    expect(server.count('/a')).toBe(20);
    expect(r.stderr).toContain(`${dir}/b.conf:0: file: is a FIFO (named pipe), not a regular file; refused`);
    expect(r.stderr).toContain(`${dir}/c.conf:0: file: too many levels of symbolic links (a symlink loop)`);
    expect(r.stderr).toContain(`${dir}/d.conf:0: file: is a FIFO (named pipe), not a regular file; refused`);
  });

  it('a FIFO renamed over the config mid-run: the run keeps running what it had, says so, and ends on time', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`t|http|600|none|url=${server.url}/t\n`);
    const cli = spawnCli(['run', ...home.args, '--lifetime', '3', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => server.count('/t') >= 3, 5_000)).toBe(true);
    const fifo = join(home.dir, 'incoming.fifo');
    execFileSync('mkfifo', [fifo]);
    await rename(fifo, home.config);
    const r = await cli.done;
    expectEndedWithin(r, 3_000 + 2_000 + 2_000, 'run with a FIFO renamed over its config');
    expect(r.code).toBe(0);
    expect(Date.now() - windowEnd(r.stderr)).toBeLessThan(2_500);
    expect(r.stderr).toContain(`cannot read config: ${home.config}: is a FIFO (named pipe), not a regular file; refused; keeping the 1 test already running`);
    // It kept running: the whole window's 30 executions (600/min for 3 s), not only those before the swap.
    expect(server.count('/t')).toBe(30);
    const [book] = summaries(r.stderr);
    expect(book).toMatchObject({ test: 't', requested: 30, ok: 30 });
    expectBooksBalance(book!);
  });

  it('a *.conf of a directory replaced by a FIFO mid-run: its tests keep running, the other files too', async () => {
    const server = await target();
    const home = await agentHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir, { mode: 0o755 });
    await writeFile(join(dir, 'a.conf'), `a|http|600|none|url=${server.url}/a\n`);
    await writeFile(join(dir, 'b.conf'), `b|http|600|none|url=${server.url}/b\n`);
    const cli = spawnCli(['run', ...home.args, '--config', dir, '--lifetime', '3'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => server.count('/b') >= 3, 5_000)).toBe(true);
    const fifo = join(dir, '.b.fifo');
    execFileSync('mkfifo', [fifo]);
    await rename(fifo, join(dir, 'b.conf'));
    const r = await cli.done;
    expectEndedWithin(r, 3_000 + 2_000 + 2_000, 'run with a *.conf replaced by a FIFO');
    expect(r.stderr).toContain(`${dir}/b.conf:0: file: is a FIFO (named pipe), not a regular file; refused`);
    expect([server.count('/a'), server.count('/b')]).toEqual([30, 30]);
  });
});

// Regression (issue 6): "Secrets in error messages" — in run's log (stderr, and so syslog) too.
describe('secrets in error messages: run logs bad lines without their secrets', () => {
  it('masks URL userinfo, query values, header values and destination credentials', async () => {
    const server = await target();
    const home = await agentHome();
    const secret = 'Run5ecretToken77';
    await home.writeConfig(
      [
        `good|http|600|none|url=${server.url}/good`,
        `a|http|60|none|url=http://user:${secret}@bad host/`,
        `b|http|60|none|url=${server.url}/|header=Authorization: Bearer ${secret}\u0001`,
        `c|http|60|none|url=${server.url}/|Authorization: Bearer ${secret}`,
        `d|http|60|statsd://user:${secret}@h:8125|url=${server.url}/`,
        `e|http|sixty|none|url=${server.url}/?token=${secret}`,
      ].join('\n'),
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '1', '--log-format', 'json'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code).toBe(0);
    expect(server.count('/good')).toBe(10);
    expect(r.stderr.match(/config line skipped/g)).toHaveLength(5);
    expect(r.stderr).not.toContain(secret);
    expect(r.stdout).not.toContain(secret);
  });
});

// issue 6 §5: StrictModes. A refused config is "unreadable": nothing of it runs, the run lives its
// window watching (the stop file still works) and exits 0, as for any config that cannot be read.
describe('strict_modes: run refuses a config others could change', () => {
  it('a group-writable tests file runs nothing, says why, and ends on time; strict_modes = off runs it', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`t|http|600|none|url=${server.url}/t\n`);
    await chmod(home.config, 0o664);
    const refused = await runCli(['run', ...home.args, '--lifetime', '1'], { killAfterMs: KILL_AFTER_MS });
    expectEndedWithin(refused, 1_000 + 2_000 + 2_000, 'run with a refused config');
    expect(refused.code).toBe(0);
    expect(refused.stderr).toContain(`cannot read config: ${home.config}: is writable by group (mode 0664); refused (strict_modes)`);
    expect(server.count('/t')).toBe(0);

    await writeFile(home.settings, 'strict_modes = off\n');
    const relaxed = await runCli(['run', ...home.args, '--lifetime', '1'], { killAfterMs: KILL_AFTER_MS });
    expect(relaxed.code).toBe(0);
    expect(server.count('/t')).toBe(10);
  });

  it('a tests file made world-writable mid-run: the run keeps what it had and says so (as for any unreadable config)', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`t|http|600|none|url=${server.url}/t\n`);
    const cli = spawnCli(['run', ...home.args, '--lifetime', '2'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => server.count('/t') >= 3, 5_000)).toBe(true);
    // A chmod changes no mtime or size; an edit does, and the re-read finds the mode.
    await chmod(home.config, 0o666);
    await writeFile(home.config, `t|http|600|none|url=${server.url}/t\nu|http|600|none|url=${server.url}/u\n`);
    const r = await cli.done;
    expectEndedWithin(r, LIFETIME_2_ENDS_WITHIN_MS, 'run with a config made writable mid-run');
    expect(r.stderr).toContain('refused (strict_modes): run chmod go-w on it, or set strict_modes = off; keeping the 1 test already running');
    expect(server.count('/t')).toBe(20);
    expect(server.count('/u')).toBe(0);
  });
});
