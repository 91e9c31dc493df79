import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_KEYS } from '../../src/config/settings.js';
import { agentHome, runCli } from '../support/cli.js';

/** Every `check` here must end within this; a hang is a failure, not a stuck suite. */
const CHECK_KILL_MS = 10_000;

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
      `${home.settings}:3: nonsense: unknown setting; known: ${SETTING_KEYS.join(', ')}`,
    ]);
  });
});

// Regression (issue 6): "Secrets in error messages" — check quoted whole URLs, header values and
// destinations, token and password included, to stderr (and so to syslog).
describe('canihaz check: secrets in error messages', () => {
  it('reports every bad line of a file full of secrets without printing any secret', async () => {
    const home = await agentHome();
    const s = (n: number) => `S3cr3tValue${n}x`;
    const lines = [
      `a1|http|60|none|url=http://user:${s(1)}@bad host/`,
      `a2|http|60|none|url=http://user:${s(2)}@h:99999/`,
      `a3|http|60|none|url=ftp://user:${s(3)}@h/`,
      `a4|http|60|none|url=http://user:${s(4)}@h/`,
      `a5|http|60|none|url=http://bad host/?token=${s(5)}&page=2`,
      `a6|http|60|none|url=htp://h/?access_token=${s(6)}`,
      `a7|http|abc|none|url=http://h/?token=${s(7)}`,
      `a8|http|60|none|url=http://h/|header=Authorization: Bearer ${s(8)}\u0001`,
      `a9|http|60|none|url=http://h/|header=Authorization Bearer ${s(9)}`,
      `b1|http|60|none|url=http://h/|Authorization: Bearer ${s(10)}`,
      `b2|http|60|none|url http://user:${s(11)}@h/?q=${s(12)}`,
      `b3|http|60|none|=http://h/?token=${s(13)}`,
      `b4|http|60|statsd://user:${s(14)}@h:8125|url=http://h/`,
      `b5|http|60|graphite://h:2003/?token=${s(15)}|url=http://h/`,
      `b6|http|60|statsd://user:${s(16)}@h|url=http://h/`,
      `http://user:${s(17)}@h/?t=${s(18)}|http|60|none`,
      `b7|http|60|none|url=http://h/|header=Connection: ${s(19)} x`,
      `b8|http|60|none|url=http://h/|header=Bad Name: ${s(20)}`,
      // A token cut in two by a stray | (should have been %7C): neither half may be echoed.
      `b9|http|60|none|url=http://h/|header=Authorization: Bearer ${s(24)}|${s(25)}`,
    ];
    await home.writeConfig(lines.join('\n') + '\n');
    await writeFile(home.settings, `statsd = user:${s(21)}@h:8125\ngraphite = h:2003/?token=${s(22)}\nstatsd user:${s(23)}@h:1\n`);
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.code).toBe(1);
    for (let n = 1; n <= 25; n++) {
      if (n === 24) continue; // the valid header value of b9's header= field, never echoed anyway
      expect(r.stdout, `secret ${n} on stdout`).not.toContain(s(n));
      expect(r.stderr, `secret ${n} on stderr`).not.toContain(s(n));
    }
    // Every line was reported (the secrets were masked, not the problems).
    const reported = new Set(r.stderr.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf(': '))));
    for (let line = 1; line <= lines.length; line++) {
      if (line !== 4) expect(reported, `line ${line}`).toContain(`${home.config}:${line}`);
    }
    expect(r.stderr).toContain(`${home.config}:1: url: expected an absolute http:// or https:// URL, got "http://***@bad host/"`);
    expect(r.stderr).toContain(`${home.config}:13: destination: "statsd://***@h:8125": expected host:port, got "***@h:8125"`);
    expect(r.stderr).toContain(`${home.settings}:1: statsd: expected host:port, got "***@h:8125"`);
  });
});

// Regression (issue 6, minor): "check echoes raw control bytes and 1 MB values".
describe('canihaz check: every echoed value is quoted with escapes and cut', () => {
  it('escapes control bytes (no raw ESC reaches the terminal) and cuts a 1 MB value at 80 characters', async () => {
    const home = await agentHome();
    await home.writeConfig(`a|http|6\u001b[2J\u0007|none|url=http://h/\nb|${'t'.repeat(1_000_000)}|1|none\n`);
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stderr).toContain(`${home.config}:1: frequency: expected a whole number of executions per minute, got "6\\u001b[2J\\u0007"`);
    expect(r.stderr).toContain(`${home.config}:2: type: unknown test type "${'t'.repeat(80)}…" (999920 more characters); known types: dns, http, tcp, tls, websocket`);
    expect(r.stderr.length).toBeLessThan(2_000);
  });

  it('a lone CR line ending gives confusing errors: a CR alone ends a line (old Mac files), numbered as an editor shows it', async () => {
    const home = await agentHome();
    await home.writeConfig('# mac\ra|http|60|none|url=http://127.0.0.1:1/\rb|http|x|none|url=http://127.0.0.1:1/\r');
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.stderr.trim()).toBe(`${home.config}:3: frequency: expected a whole number of executions per minute, got "x"`);
    expect(r.stdout.trim()).toBe('1 problem; 1 valid test');
  });
});

// Regression (issue 6): "Timeouts that pass check and fail every execution".
describe('canihaz check: timeouts that pass check and fail every execution', () => {
  it('rejects 1.0005s, 1.5ms and 0.0001ms, saying durations are whole milliseconds', async () => {
    const home = await agentHome();
    await home.writeConfig(['1.0005s', '1.5ms', '0.0001ms', '1.5s'].map((t, i) => `t${i}|http|60|none|url=http://127.0.0.1:1/|timeout=${t}`).join('\n'));
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${home.config}:1: timeout: must be a whole number of milliseconds, got "1.0005s"; write e.g. 1001ms`,
      `${home.config}:2: timeout: must be a whole number of milliseconds, got "1.5ms"; write e.g. 2ms`,
      `${home.config}:3: timeout: must be a whole number of milliseconds, got "0.0001ms"; write e.g. 1ms`,
    ]);
    expect(r.stdout.trim()).toBe('3 problems; 1 valid test');
  });
});

describe('canihaz check: max_frequency and max_total_rate name the line', () => {
  it('refuses the line that pushes the total over max_total_rate, keeps the ones before it', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|600|none|url=http://127.0.0.1:1/\nb|http|500|none|url=http://127.0.0.1:1/\nc|http|2000|none|url=http://127.0.0.1:1/\n');
    const r = await runCli(['check', ...home.args, '--max-total-rate', '1000', '--max-frequency', '1500'], { killAfterMs: CHECK_KILL_MS });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${home.config}:2: frequency: 500 per minute would bring this agent's total to 1100 per minute, over max_total_rate 1000 (the tests before this line already total 600)`,
      `${home.config}:3: frequency: must be at most 1500 per minute (max_frequency), got 2000`,
    ]);
    expect(r.stdout.trim()).toBe('2 problems; 1 valid test');
  });

  it('reads max_total_rate from the settings file', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|600|none|url=http://127.0.0.1:1/\n');
    await writeFile(home.settings, 'max_total_rate = 599\n');
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.stderr).toContain(`${home.config}:1: frequency: 600 per minute would bring this agent's total to 600 per minute, over max_total_rate 599`);
  });
});

// Regression (issue 6): "A FIFO as the tests file (or a *.conf symlink to one, or the settings file)
// hangs check forever".
describe('canihaz check: a FIFO as the tests file or the settings file', () => {
  it('a FIFO as the tests file: exit 2 at once, naming it', async () => {
    const home = await agentHome();
    execFileSync('mkfifo', [home.config]);
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`${home.config}: is a FIFO (named pipe), not a regular file; refused`);
  });

  it('a FIFO as the settings file: exit 2 at once, naming it', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|none|url=http://127.0.0.1:1/\n');
    const fifo = join(home.dir, 'fifo-settings.conf');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['check', ...home.args, '--settings', fifo], { killAfterMs: CHECK_KILL_MS });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`canihaz: settings file ${fifo}: is a FIFO (named pipe), not a regular file; refused`);
  });

  it('a *.conf symlink to a FIFO and a symlink loop in a config directory: exit 2, the other files still checked', async () => {
    const home = await agentHome();
    const dir = join(home.dir, 'conf.d');
    execFileSync('mkdir', ['-m', '755', dir]);
    await writeFile(join(dir, 'a.conf'), 'a|http|60|none|url=http://127.0.0.1:1/\n');
    execFileSync('mkfifo', [join(home.dir, 'pipe')]);
    await symlink(join(home.dir, 'pipe'), join(dir, 'b.conf'));
    await symlink(join(dir, 'c.conf'), join(dir, 'c.conf'));
    await writeFile(join(dir, 'd.conf'), 'd|http|x|none|url=http://127.0.0.1:1/\n');
    const r = await runCli(['check', ...home.args, '--config', dir], { killAfterMs: CHECK_KILL_MS });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${dir}/b.conf:0: file: is a FIFO (named pipe), not a regular file; refused`,
      `${dir}/c.conf:0: file: too many levels of symbolic links (a symlink loop)`,
      `${dir}/d.conf:1: frequency: expected a whole number of executions per minute, got "x"`,
    ]);
    expect(r.stdout.trim()).toBe('3 problems; 1 valid test');
  });
});

describe('canihaz check: a config file too large to be one', () => {
  it('refuses a 40 MiB tests file (a log named as the config) at once with exit 2, without reading it', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|none|url=http://127.0.0.1:1/\n');
    // A sparse file: its size says 40 MiB, it costs no disk, and reading it would cost 40 MiB of memory.
    execFileSync('truncate', ['-s', '40M', home.config]);
    const r = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${home.config}: is 40 MiB, larger than the 32 MiB a config file may be; refused`);
    expect(r.durationMs).toBeLessThan(5_000);
  });
});

describe('canihaz check: strict_modes', () => {
  it('exit 2 with the reason for a group-writable tests file, settings file or directory; strict_modes = off relaxes the tests file', async () => {
    const home = await agentHome();
    await home.writeConfig('a|http|60|none|url=http://127.0.0.1:1/\n');
    await chmod(home.config, 0o664);
    const file = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(file.code).toBe(2);
    expect(file.stderr.trim()).toBe(`${home.config}: is writable by group (mode 0664); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`);
    await writeFile(home.settings, 'strict_modes = off\n');
    const relaxed = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect([relaxed.code, relaxed.stdout.trim()]).toEqual([0, 'ok: 1 test in 1 file']);

    // The settings file cannot relax its own check: only a flag or CANIHAZ_STRICT_MODES can.
    await chmod(home.settings, 0o666);
    const settings = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(settings.code).toBe(2);
    expect(settings.stderr).toContain(`canihaz: settings file ${home.settings}: is writable by group and others (mode 0666); refused (strict_modes)`);
    const flag = await runCli(['check', ...home.args, '--strict-modes', 'off'], { killAfterMs: CHECK_KILL_MS });
    expect(flag.code).toBe(0);
    const env = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS, env: { CANIHAZ_STRICT_MODES: 'off' } });
    expect(env.code).toBe(0);

    await chmod(home.settings, 0o644);
    await writeFile(home.settings, '');
    await chmod(home.config, 0o644);
    await chmod(home.dir, 0o777);
    const dir = await runCli(['check', ...home.args], { killAfterMs: CHECK_KILL_MS });
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim()).toBe(`${home.dir} (the directory of ${home.config}): is writable by group and others (mode 0777); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`);
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
    expect(unknown.stderr).toContain('canihaz: "frobnicate": unknown command; expected one of run, daemon, check, report, dashboard, replay (see "canihaz --help")');
    const badFlag = await runCli(['run', '--bogus']);
    expect(badFlag.code).toBe(64);
    expect(badFlag.stderr).toContain('canihaz: --bogus: unknown option (see "canihaz run --help")');
    const home = await agentHome();
    const badLifetime = await runCli(['run', ...home.args, '--lifetime', '0']);
    expect(badLifetime.code).toBe(64);
    expect(badLifetime.stderr).toContain('canihaz: --lifetime: must be at least 1 (see "canihaz run --help")');
    const badPrefix = await runCli(['run', ...home.args, '--prefix', 'a..b']);
    expect(badPrefix.code).toBe(64);
    expect(badPrefix.stderr).toContain('canihaz: --prefix: expected dot-separated segments');
  });
});
