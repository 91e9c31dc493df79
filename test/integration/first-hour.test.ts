import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, spawnCli, startTarget, waitFor, type TargetServer } from '../support/cli.js';

// The operator's first hour: a host with the agent and no tests file yet, the first file written
// while a run watches, the first change to it. Every run here is short (--lifetime) and bounded.

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  return t;
}

/** A run that never ends is killed after this long: a lifetime of at most 3 s, set-up and the flush bound. */
const KILL_AFTER_MS = 20_000;

/** The lines of a logfmt stderr whose msg matches. */
function linesWith(stderr: string, msg: RegExp): string[] {
  return stderr.split('\n').filter((l) => msg.test(l));
}

/** Writes a file by rename, as Puppet and Chef do, mode 0644 (strict_modes). */
async function writeByRename(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o644 });
  await chmod(tmp, 0o644);
  await rename(tmp, path);
}

describe('canihaz run with nothing to run says so once, at the default level', () => {
  it('no tests file: one notice naming the path, exit 0', async () => {
    const home = await agentHome();
    const r = await runCli(['run', ...home.args, '--lifetime', '1'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code).toBe(0);
    const said = linesWith(r.stderr, /no tests file/);
    expect(said, r.stderr).toEqual([
      expect.stringMatching(new RegExp(`^ts=\\S+ level=notice msg="no tests file at ${home.config}; watching for one until the run ends"$`)),
    ]);
  });

  it('a config directory with no *.conf files: one notice naming the directory', async () => {
    const home = await agentHome();
    const dir = join(home.dir, 'conf.d');
    await mkdir(dir, { mode: 0o755 });
    await writeFile(join(dir, 'README'), 'not a .conf file\n', { mode: 0o644 });
    const r = await runCli(['run', ...home.args, '--config', dir, '--lifetime', '1'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code).toBe(0);
    expect(linesWith(r.stderr, /level=notice msg="no/), r.stderr).toEqual([
      expect.stringContaining(`msg="no *.conf files in ${dir}; watching for one until the run ends"`),
    ]);
  });

  it('a tests file with comments only is idle on purpose: nothing at notice, a line at info', async () => {
    const home = await agentHome();
    await home.writeConfig('# no tests on this host for now\n');
    // A state dir of its own: the default /var/lib/canihaz may not exist here, and a journal that cannot be written is a warning.
    const quiet = await runCli(['run', ...home.args, '--state-dir', home.dir, '--lifetime', '1'], { killAfterMs: KILL_AFTER_MS });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const info = await runCli(['run', ...home.args, '--lifetime', '1', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(linesWith(info.stderr, /msg="no tests in/)).toEqual([expect.stringContaining(`level=info msg="no tests in ${home.config}; watching for changes`)]);
  });
});

describe('a tests file written while a run watches', () => {
  it('starts at once and logs each test added (info); a change logs test changed, not added; the notice is not repeated', async () => {
    const server = await target();
    const home = await agentHome();
    const cli = spawnCli(['run', ...home.args, '--lifetime', '3', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => cli.stderr.includes('msg="run started"'), 10_000), cli.stderr).toBe(true);
    await writeByRename(home.config, `first|http|600|none|url=${server.url}/first\n`);
    expect(await waitFor(() => server.count('/first') > 0, 2_000), 'the new file ran within 2 s').toBe(true);
    // A changed frequency and a new test, in one write.
    await writeByRename(home.config, `first|http|300|none|url=${server.url}/first\nsecond|http|600|none|url=${server.url}/second\n`);
    expect(await waitFor(() => server.count('/second') > 0, 2_000), 'the added test ran within 2 s').toBe(true);
    const r = await cli.done;
    expect(r.code).toBe(0);
    expect(linesWith(r.stderr, /no tests file/)).toHaveLength(1);
    expect(linesWith(r.stderr, /msg="test (added|changed|removed)"/).map((l) => l.replace(/^ts=\S+ /, ''))).toEqual([
      'level=info msg="test added" test=first frequency=600',
      'level=info msg="test changed" test=first',
      'level=info msg="test added" test=second frequency=600',
    ]);
    expect(r.stderr).toMatch(/level=notice msg=summary test=first .*ok=[1-9]/);
    expect(r.stderr).toMatch(/level=notice msg=summary test=second .*ok=[1-9]/);
  });

  it('the tests present at start are counted by run started, not logged one by one as added', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`a|http|60|none|url=${server.url}/a\nb|http|60|none|url=${server.url}/b\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/msg="run started" slot=\d tests=2 /);
    expect(r.stderr).not.toContain('test added');
  });

  it('a removed file stops its tests and logs test removed', async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`gone|http|600|none|url=${server.url}/gone\n`);
    const cli = spawnCli(['run', ...home.args, '--lifetime', '3', '--log-level', 'info'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => server.count('/gone') > 0, 10_000), cli.stderr).toBe(true);
    await rm(home.config);
    expect(await waitFor(() => cli.stderr.includes('msg="test removed" test=gone'), 2_000), cli.stderr).toBe(true);
    expect((await cli.done).code).toBe(0);
  });
});
