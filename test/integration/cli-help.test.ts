import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, runCli } from '../support/cli.js';

// What `--help` promises, kept: each command lists the options it uses, every option is settable
// the ways the help and the README say (flag, CANIHAZ_<KEY>, settings file key), and every error
// is one line in one style.

const KILL_AFTER_MS = 20_000;

/** The options `run` uses (and `daemon`, which passes them on to each run), in help order. */
const RUN_OPTIONS = [
  'config',
  'settings',
  'lifetime',
  'stop-file',
  'lock-dir',
  'state-dir',
  'journal-days',
  'types-dir',
  'blocked-limit',
  'statsd',
  'graphite',
  'prefix',
  'statsd-prefix',
  'statsd-tags',
  'graphite-prefix',
  'max-frequency',
  'max-total-rate',
  'max-inflight',
  'phase',
  'strict-modes',
  'log-level',
  'log-format',
];
/** The options `check` uses: what decides whether a tests file is valid, and where it is. */
const CHECK_OPTIONS = ['config', 'settings', 'types-dir', 'blocked-limit', 'max-frequency', 'max-total-rate', 'strict-modes'];
/** The settings `report` uses: where the settings file and the journal are. */
const REPORT_OPTIONS = ['settings', 'state-dir'];
/** The settings `dashboard` uses: the journal's place and its own log lines. */
const DASHBOARD_OPTIONS = ['settings', 'state-dir', 'log-level', 'log-format'];
/** The settings `replay` uses: the journal's place, and what the Graphite paths and the word "graphite" are. */
const REPLAY_OPTIONS = ['settings', 'state-dir', 'graphite', 'prefix', 'graphite-prefix'];

/** The long names listed under a help text's "Options:" heading. */
function listedOptions(help: string): string[] {
  const block = help.split('\nOptions:\n')[1]?.split('\n\n')[0] ?? '';
  return block.split('\n').map((l) => /^ {2}(?:-\w, | {4})--([a-z-]+)/.exec(l)?.[1] ?? `unparsed: ${l}`);
}

/** A usage error: one line, `canihaz: <subject>: <reason> (see "<where help is>")`. */
function expectUsageError(r: { code: number | null; stderr: string }, subject: string, help: string): void {
  expect(r.code, r.stderr).toBe(64);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines.length, r.stderr).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatch(/^canihaz: \S.*: [a-z].* \(see "canihaz (?:[a-z]+ )?--help"\)$/);
  expect(lines[0]!.startsWith(`canihaz: ${subject}: `), r.stderr).toBe(true);
  expect(lines[0]!.endsWith(`(see "${help}")`), r.stderr).toBe(true);
}

describe('help', () => {
  it('canihaz --help: commands and options under their headings', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nCommands:\n {2}run {8}\S.*\n {2}daemon {5}\S.*\n {2}check {6}\S.*\n {2}report {5}\S.*\n {2}dashboard {2}\S.*\n {2}replay {5}\S.*\n/);
    expect(r.stdout).toContain('\nOptions:\n  -h, --help      this help\n  -V, --version   print the version\n');
    expect(r.stdout).toContain('Run "canihaz <command> --help" for a command\'s options.');
    expect((await runCli(['help'])).stdout).toBe(r.stdout);
  });

  it.each([
    ['run', RUN_OPTIONS],
    ['daemon', RUN_OPTIONS],
    ['check', CHECK_OPTIONS],
    ['report', REPORT_OPTIONS],
    ['dashboard', DASHBOARD_OPTIONS],
    ['replay', REPLAY_OPTIONS],
  ])('canihaz %s --help lists the options it uses, and names the ones it only accepts', async (command, options) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    // A command's own options (report's range and format, replay's required --to) come before the shared [options].
    expect(r.stdout).toMatch(new RegExp(`^Usage: canihaz ${command} (?:\\[?--[^\n]* )?\\[options\\]\n`));
    expect(listedOptions(r.stdout)).toEqual([...options, 'help']);
    const unused = RUN_OPTIONS.filter((o) => !options.includes(o));
    const also = /Also accepted and checked, but not used by \w+ \(one set of flags serves every command\):\s+([^.]+)\./.exec(r.stdout)?.[1];
    // run and daemon use every option: their help has no such line.
    expect(also?.split(/,\s+/).sort()).toEqual(unused.length > 0 ? unused.map((o) => `--${o}`).sort() : undefined);
    expect((await runCli(['help', command])).stdout).toBe(r.stdout);
  });
});

describe('every option is settable as the help says', () => {
  /** Bad values for each setting whose value is checked; each names the setting when refused. */
  const BAD: [key: string, value: string][] = [
    ['state_dir', ''],
    ['journal_days', '0'],
    ['statsd', 'host:notaport'],
    ['graphite', 'host:99999'],
    ['prefix', 'a..b'],
    ['statsd_prefix', 'a..b'],
    ['graphite_prefix', 'a b'],
    ['max_frequency', '0'],
    ['max_total_rate', 'lots'],
    ['max_inflight', '0'],
    ['phase', 'maybe'],
    ['strict_modes', 'maybe'],
    ['log_level', 'loud'],
    ['log_format', 'xml'],
  ];

  it('as a flag: every bad value named as --<key>, one line each', async () => {
    const home = await agentHome();
    await home.writeConfig('');
    const flags = BAD.flatMap(([k, v]) => [`--${k.replaceAll('_', '-')}=${v}`]);
    const r = await runCli(['check', ...home.args, ...flags], { killAfterMs: KILL_AFTER_MS });
    expectUsageError(r, '--state-dir', 'canihaz check --help'); // the first in the settings table
    expect(r.stderr.trim().split('\n').map((l) => l.split(':')[1]!.trim()).sort()).toEqual(BAD.map(([k]) => `--${k.replaceAll('_', '-')}`).sort());
  });

  it('as CANIHAZ_<KEY>: every bad value named as the variable', async () => {
    const home = await agentHome();
    await home.writeConfig('');
    // An empty variable is unset (as for every key), so the empty state_dir is left out here.
    const set = BAD.filter(([, v]) => v !== '');
    const env = Object.fromEntries(set.map(([k, v]) => [`CANIHAZ_${k.toUpperCase()}`, v]));
    const r = await runCli(['check', ...home.args], { killAfterMs: KILL_AFTER_MS, env });
    expectUsageError(r, 'CANIHAZ_JOURNAL_DAYS', 'canihaz check --help');
    expect(r.stderr.trim().split('\n').map((l) => l.split(':')[1]!.trim()).sort()).toEqual(set.map(([k]) => `CANIHAZ_${k.toUpperCase()}`).sort());
  });

  it('as a settings file key: every bad line reported as FILE:LINE: key', async () => {
    const home = await agentHome();
    await home.writeConfig('');
    await writeFile(home.settings, BAD.map(([k, v]) => `${k} = ${v}\n`).join(''));
    const r = await runCli(['check', ...home.args], { killAfterMs: KILL_AFTER_MS });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').map((l) => l.split(': ')[0])).toEqual(BAD.map((_, i) => `${home.settings}:${i + 1}`));
    expect(r.stderr.trim().split('\n').map((l) => l.split(': ')[1])).toEqual(BAD.map(([k]) => k));
  });

  it('config: from the settings file, the environment or the flag', async () => {
    const home = await agentHome();
    const other = join(home.dir, 'other.conf');
    await writeFile(other, 'a|http|60|none|url=http://127.0.0.1:9/\nb|http|60|none|url=http://127.0.0.1:9/\n', { mode: 0o644 });
    const base = ['--settings', home.settings];
    await writeFile(home.settings, `config = ${other}\n`);
    expect((await runCli(['check', ...base])).stdout.trim()).toBe('ok: 2 tests in 1 file');
    await writeFile(home.settings, '');
    expect((await runCli(['check', ...base], { env: { CANIHAZ_CONFIG: other } })).stdout.trim()).toBe('ok: 2 tests in 1 file');
    expect((await runCli(['check', ...base, '-c', other])).stdout.trim()).toBe('ok: 2 tests in 1 file');
  });

  it('stop_file and lock_dir: from the settings file, the environment or the flag', async () => {
    const home = await agentHome();
    const stop = join(home.dir, 'frozen');
    await writeFile(stop, '');
    const notADir = join(home.dir, 'a-file');
    await writeFile(notADir, '');
    const base = ['--settings', home.settings, '--config', home.config, '--lifetime', '1'];
    const ways: [string, (key: string, value: string) => Promise<{ args: string[]; env: NodeJS.ProcessEnv }>][] = [
      ['file', async (k, v) => (await writeFile(home.settings, `${k} = ${v}\n`), { args: [], env: {} })],
      ['env', async (k, v) => (await writeFile(home.settings, ''), { args: [], env: { [`CANIHAZ_${k.toUpperCase()}`]: v } })],
      ['flag', async (k, v) => (await writeFile(home.settings, ''), { args: [`--${k.replaceAll('_', '-')}`, v], env: {} })],
    ];
    for (const [way, set] of ways) {
      const s = await set('stop_file', stop);
      const frozen = await runCli(['run', ...base, '--lock-dir', home.lockDir, ...s.args], { env: s.env, killAfterMs: KILL_AFTER_MS });
      expect([way, frozen.code, frozen.stderr]).toEqual([way, 0, expect.stringContaining(`msg="stop file present: not running" stop_file=${stop}`)]);
      const l = await set('lock_dir', join(notADir, 'lock'));
      const locked = await runCli(['run', ...base, '--stop-file', home.stopFile, ...l.args], { env: l.env, killAfterMs: KILL_AFTER_MS });
      expect([way, locked.code]).toEqual([way, 3]);
      expect(locked.stderr).toContain(notADir);
    }
  });

  it('settings: from the flag or CANIHAZ_SETTINGS; an unreadable one is one line naming it, exit 2', async () => {
    const home = await agentHome();
    const missing = join(home.dir, 'nope.conf');
    const flag = await runCli(['check', '--config', home.config, '--settings', missing]);
    expect([flag.code, flag.stderr]).toEqual([2, `canihaz: settings file ${missing}: no such file\n`]);
    const env = await runCli(['check', '--config', home.config], { env: { CANIHAZ_SETTINGS: missing } });
    expect([env.code, env.stderr]).toEqual([2, `canihaz: settings file ${missing}: no such file\n`]);
  });

  it('log_format: the environment wins over the settings file, the flag over the environment', async () => {
    const home = await agentHome();
    const args = ['run', ...home.args, '--lifetime', '1'];
    await writeFile(home.settings, 'log_format = json\n');
    const fromFile = await runCli(args, { killAfterMs: KILL_AFTER_MS });
    expect(fromFile.stderr).toMatch(/^\{"ts":/);
    const fromEnv = await runCli(args, { env: { CANIHAZ_LOG_FORMAT: 'logfmt' }, killAfterMs: KILL_AFTER_MS });
    expect(fromEnv.stderr).toMatch(/^ts=/);
    const fromFlag = await runCli([...args, '--log-format', 'json'], { env: { CANIHAZ_LOG_FORMAT: 'logfmt' }, killAfterMs: KILL_AFTER_MS });
    expect(fromFlag.stderr).toMatch(/^\{"ts":/);
  });
});

describe('lifetime: --lifetime or CANIHAZ_LIFETIME, checked the same way', () => {
  /** The window length the run reports on its `run started` line, ms. */
  function windowMs(stderr: string): number {
    const m = /msg="run started" .*window_start=(\S+) window_end=(\S+)/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    return Date.parse(m![2]!) - Date.parse(m![1]!);
  }

  it('CANIHAZ_LIFETIME sets the window; --lifetime wins over it', async () => {
    const home = await agentHome();
    const fromEnv = await runCli(['run', ...home.args, '--log-level', 'info'], { env: { CANIHAZ_LIFETIME: '1' }, killAfterMs: KILL_AFTER_MS });
    expect(fromEnv.code).toBe(0);
    expect(windowMs(fromEnv.stderr)).toBe(1_000);
    const fromFlag = await runCli(['run', ...home.args, '--log-level', 'info', '--lifetime', '2'], { env: { CANIHAZ_LIFETIME: '1' }, killAfterMs: KILL_AFTER_MS });
    expect(windowMs(fromFlag.stderr)).toBe(2_000);
  });

  it('a bad value is refused by every command, named as given', async () => {
    const home = await agentHome();
    for (const command of ['run', 'daemon', 'check']) {
      expectUsageError(await runCli([command, ...home.args], { env: { CANIHAZ_LIFETIME: '61' } }), 'CANIHAZ_LIFETIME', `canihaz ${command} --help`);
      expectUsageError(await runCli([command, ...home.args, '--lifetime', 'soon']), '--lifetime', `canihaz ${command} --help`);
    }
    const r = await runCli(['run', ...home.args], { env: { CANIHAZ_LIFETIME: '0' } });
    expect(r.stderr).toBe('canihaz: CANIHAZ_LIFETIME: must be at least 1 (see "canihaz run --help")\n');
  });

  it('is not a settings file key (a trial knob must not shorten every cron minute)', async () => {
    const home = await agentHome();
    await home.writeConfig('');
    await writeFile(home.settings, 'lifetime = 10\n');
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${home.settings}:1: lifetime: unknown setting`);
  });
});

describe('errors: one line, `canihaz: <subject>: <reason>`, usage errors pointing at the right help', () => {
  it.each([
    [['frobnicate'], '"frobnicate"', 'canihaz --help'],
    [['--bogus'], '--bogus', 'canihaz --help'],
    [['run', '--bogus'], '--bogus', 'canihaz run --help'],
    [['check', '--bogus=1'], '--bogus', 'canihaz check --help'],
    [['daemon', '-x'], '-x', 'canihaz daemon --help'],
    [['run', 'extra'], '"extra"', 'canihaz run --help'],
    [['check', '--config'], '--config', 'canihaz check --help'],
    [['check', '--config', '--strict-modes', 'off'], '--config', 'canihaz check --help'],
    [['run', '--help=please'], '--help', 'canihaz run --help'],
    [['check', '--max-inflight', '-1'], '--max-inflight', 'canihaz check --help'],
  ])('canihaz %j', async (args, subject, help) => {
    const r = await runCli(args);
    expectUsageError(r, subject, help);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('every bad value at once: --lifetime is checked with the settings, not after them', async () => {
    const home = await agentHome();
    await home.writeConfig('');
    const r = await runCli(['check', ...home.args, '--lifetime', '0', '--max-inflight', '0'], { env: { CANIHAZ_PHASE: 'maybe' } });
    expectUsageError(r, '--lifetime', 'canihaz check --help');
    expect(r.stderr.trim().split('\n').map((l) => l.split(':')[1]!.trim())).toEqual(['--lifetime', '--max-inflight', 'CANIHAZ_PHASE']);
  });

  it('an empty --settings= is a bad value like an empty --config=, not a file named ""', async () => {
    const r = await runCli(['check', '--config', '/nonexistent/tests.conf', '--settings=']);
    expect(r.stderr).toBe('canihaz: --settings: must not be empty (see "canihaz check --help")\n');
    expect(r.code).toBe(64);
  });

  it('an unknown option is refused even with --help', async () => {
    expectUsageError(await runCli(['check', '--help', '--lock-dirr', '/x']), '--lock-dirr', 'canihaz check --help');
  });
});
