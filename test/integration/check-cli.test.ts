import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, runCli } from '../support/cli.js';

describe('canihaz check (real CLI process)', () => {
  it('exits 0 on a clean file and says how many tests it found', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|statsd|url=http://127.0.0.1:1/\n# comment\nb|http|0|none|url=http://127.0.0.1:1/\n');
    const r = await runCli(['check', ...home.args]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok: 2 tests in 1 file');
    expect(r.code).toBe(0);
  });

  it('exits 1 naming the file, line and field of every bad line', async () => {
    const home = await agentHome();
    await home.writeConfig('good|http|60|statsd|url=http://127.0.0.1:1/\nbad|http|abc|statsd|url=http://127.0.0.1:1/\nworse|http|1|nowhere\n');
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${home.config}:2: frequency: expected a whole number of executions per minute, got "abc"`,
      `${home.config}:3: destination: unknown destination "nowhere"; expected statsd, graphite, console, none, statsd://host:port, statsd+tcp://host:port or graphite://host:port`,
      `${home.config}:3: url: is required, e.g. url=https://example.com/health`,
    ]);
    expect(r.stdout.trim()).toBe('3 problems; 1 valid test');
  });

  it('exits 2 when the config cannot be read', async () => {
    const home = await agentHome();
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${home.config}: no such file or directory`);
  });

  it('works as Puppet validate_cmd / Chef verify: a temporary file with any name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'puppet-'));
    const tmp = join(dir, 'tests.conf20261122-1234-abcd');
    await writeFile(tmp, 'a|http|60|statsd|url=http://127.0.0.1:1/\n');
    const home = await agentHome();
    expect((await runCli(['check', '--settings', home.settings, '--config', tmp])).code).toBe(0);
    await writeFile(tmp, 'a|http|sixty|statsd|url=http://127.0.0.1:1/\n');
    expect((await runCli(['check', '--settings', home.settings, '--config', tmp])).code).toBe(1);
  });

  it('reports a bad settings line with its file and line, and exits 1', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|statsd|url=http://127.0.0.1:1/\n');
    await writeFile(home.settings, 'prefix = ok\nmax_frequency = lots\nnonsense = 1\n');
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${home.settings}:2: max_frequency: expected a whole number, got "lots"`,
      `${home.settings}:3: nonsense: unknown setting; known: config, stop_file, lock_dir, state_dir, statsd, graphite, prefix, statsd_prefix, graphite_prefix, max_frequency, max_inflight, log_format, log_level`,
    ]);
  });
});

describe('canihaz CLI basics', () => {
  it('--help lists the commands; --version prints the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['run', 'check', 'daemon']) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const runHelp = await runCli(['run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toContain('--lifetime SECONDS');
  });

  it('exits 64 with a clear message on bad usage', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badFlag = await runCli(['run', '--bogus']);
    expect(badFlag.code).toBe(64);
    expect(badFlag.stderr).toContain("Unknown option '--bogus'");
    const home = await agentHome();
    const badLifetime = await runCli(['run', ...home.args, '--lifetime', '0']);
    expect(badLifetime.code).toBe(64);
    expect(badLifetime.stderr).toContain('Expected `--lifetime` to be a whole number of seconds from 1 to 60, got "0"');
    const badPrefix = await runCli(['run', ...home.args, '--prefix', 'a..b']);
    expect(badPrefix.code).toBe(64);
    expect(badPrefix.stderr).toContain('Expected `--prefix` to be valid');
  });
});
