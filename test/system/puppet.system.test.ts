/**
 * The Puppet module applied for real, as root, on this machine: `puppet apply` installs the .deb
 * (`buildDeb()`), writes the settings file and a test through canihaz::test, and then the agent's
 * next cron run — the cron file's own command, as the canihaz user (no cron daemon runs in CI) —
 * sends requests to a local HTTP target and metrics to a local UDP StatsD listener. Then: a bad test
 * fails that resource and leaves the good file in place; freeze stops runs and thaw removes the stop
 * file; a repeated apply changes nothing. run_with => daemon/timer can only be planned here (no
 * systemd as PID 1): the noop run must plan to remove the cron file, and without manage_units the
 * class refuses to compile.
 *
 * Not tested here: services actually enabled and started by run_with => daemon or timer (needs a
 * booted systemd), the apt-repository install path (no repository), and Puppet 8.
 *
 * The whole file runs under `flock /tmp/canihaz-dpkg.lock` (held by a child `flock … cat` for the
 * file's lifetime; it lets go when this process dies), purges any canihaz package first and last,
 * and keeps Puppet's own state in a temporary directory. Root only: skipped (with the reason) when
 * not root or when puppet is missing, unless CANIHAZ_E2E=1, where both are failures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeb, onPath, systemTestsNotAskedFor, takeDpkgLock } from '../support/deb.js';
import { startUdpStatsd, type StatsdListener } from '../support/listeners.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULE_PATH = join(ROOT, 'deploy/puppet');
const TESTS_DIR = '/etc/canihaz/tests.d';
const WEB_CONF = join(TESTS_DIR, 'web.conf');
const SETTINGS = '/etc/canihaz/canihaz.conf';
const STOP = '/etc/canihaz/stop';
const CRON = '/etc/cron.d/canihaz';
const E2E_REQUIRED = process.env.CANIHAZ_E2E === '1';

const missing = [
  systemTestsNotAskedFor(),
  process.getuid?.() === 0 ? undefined : 'not root (puppet apply installs a package and writes /etc)',
  ...['puppet', 'dpkg', 'runuser', 'flock'].map((c) => (onPath(c) ? undefined : `${c} not installed`)),
].filter((m): m is string => m !== undefined);
const SKIP = missing.length > 0 && !E2E_REQUIRED;
const SKIP_REASON = missing.join('; ');
if (SKIP) console.warn(`SKIPPED puppet system test: ${SKIP_REASON}`);

/** Puppet's own state (reports, filebucket, facts cache) kept out of /var/cache/puppet. */
let puppetHome: string;
let deb: string;
let lockHolder: ChildProcess | undefined;
let target: Server;
let targetPort: number;
let hits = 0;
let statsd: StatsdListener;
/** A header value standing in for a token: it must never appear in Puppet's output. */
const SECRET = `t0k3n-${randomBytes(6).toString('hex')}`;
/** Seconds per apply, by step, for the README. */
const timings: Record<string, number> = {};

interface Ran {
  status: number | null;
  out: string;
}

function sh(cmd: string, args: string[], timeout = 120_000): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !l.includes('Facter: Permission denied')) // container noise about /proc/1/environ
    .join('\n');
  return { status: r.status, out: `${r.stdout}${stderr}` };
}

/** Runs `puppet apply --detailed-exitcodes` on `manifest` (0 no change, 2 changes, 4/6 failures). */
function apply(step: string, manifest: string, ...extra: string[]): Ran {
  const t0 = performance.now();
  const r = sh('puppet', [
    'apply',
    '--detailed-exitcodes',
    '--color=false',
    `--confdir=${join(puppetHome, 'conf')}`,
    `--vardir=${join(puppetHome, 'var')}`,
    `--logdir=${join(puppetHome, 'log')}`,
    `--rundir=${join(puppetHome, 'run')}`,
    `--codedir=${join(puppetHome, 'code')}`,
    `--modulepath=${MODULE_PATH}`,
    ...extra,
    '-e',
    manifest,
  ]);
  timings[step] = Math.round((performance.now() - t0) / 100) / 10;
  return r;
}

/** The class as every step declares it, with the test's settings. */
function canihazClass(extra = ''): string {
  return `class { 'canihaz':
    package_source => '${deb}',
    settings       => { 'prefix' => 'puppetsys', 'log_level' => 'info' },
    ${extra}
  }`;
}

function webTest(): string {
  return `canihaz::test { 'web':
    frequency   => 600,
    destination => 'statsd://127.0.0.1:${statsd.port}',
    options     => {
      'url'    => 'http://127.0.0.1:${targetPort}/probe?a=1|b',
      'header' => ['Accept: text/plain', Sensitive('X-Token: ${SECRET}')],
    },
  }`;
}

/**
 * The agent's next cron run: the cron file's command, as the canihaz user (no cron daemon here).
 * Asynchronous: the HTTP target and the StatsD listener live in this process and must keep serving.
 */
async function cronRun(lifetime: number): Promise<Ran> {
  const cron = readFileSync(CRON, 'utf8');
  // The line that matters; if the package changes it, this test must be looked at again.
  expect(cron).toMatch(/^\* \* \* \* \* canihaz \[ -x \/usr\/bin\/canihaz \] && \/usr\/bin\/canihaz run 2>&1 \| \/usr\/bin\/logger -t canihaz$/m);
  const child = spawn('runuser', ['-u', 'canihaz', '--', '/usr/bin/canihaz', 'run', '--lifetime', String(lifetime)], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  clearTimeout(watchdog);
  return { status, out };
}

function purgePackage(): void {
  const r = sh('dpkg', ['--purge', 'canihaz']);
  if (r.status !== 0) throw new Error(`dpkg --purge canihaz failed: ${r.out}`);
}

describe.skipIf(SKIP)(`the Puppet module, applied for real${SKIP ? ` [skipped: ${SKIP_REASON}]` : ''}`, () => {
  beforeAll(async () => {
    lockHolder = await takeDpkgLock();
    puppetHome = mkdtempSync(join(tmpdir(), 'canihaz-puppet-'));
    deb = await buildDeb();
    purgePackage(); // a clean slate: whatever an earlier run left
    target = createServer((_req, res) => {
      hits += 1;
      res.end('ok');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetPort = (target.address() as AddressInfo).port;
    statsd = await startUdpStatsd();
  }, 600_000);

  afterAll(async () => {
    try {
      if (lockHolder) purgePackage();
      rmSync(TESTS_DIR, { recursive: true, force: true }); // in case the purge did not run
      rmSync(STOP, { force: true });
      if (puppetHome) rmSync(puppetHome, { recursive: true, force: true });
      target?.close();
      await statsd?.close();
      console.info(`puppet apply, seconds per step: ${JSON.stringify(timings)}`);
    } finally {
      lockHolder?.stdin?.end();
    }
  });

  let goodBytes: Buffer;

  it('the first apply installs the package and writes the settings and the test, root:root 0644', () => {
    const r = apply('first', `${canihazClass()}\n${webTest()}`);
    expect([0, 2], r.out).toContain(r.status);
    expect(r.out).not.toContain(SECRET);
    expect(sh('dpkg-query', ['-W', '-f=${Status}', 'canihaz']).out).toBe('install ok installed');

    goodBytes = readFileSync(WEB_CONF);
    const line = goodBytes.toString('utf8').split('\n').find((l) => l.startsWith('web|'));
    expect(line).toBe(
      `web|http|600|statsd://127.0.0.1:${statsd.port}|url=http://127.0.0.1:${targetPort}/probe?a=1%7Cb|header=Accept: text/plain|header=X-Token: ${SECRET}`,
    );
    const settings = readFileSync(SETTINGS, 'utf8');
    expect(settings).toContain(`config = ${TESTS_DIR}\nlog_level = info\nprefix = puppetsys\n`);
    for (const [path, mode] of [
      [WEB_CONF, 0o644],
      [SETTINGS, 0o644],
      [TESTS_DIR, 0o755],
      [CRON, 0o644],
    ] as const) {
      const st = statSync(path);
      expect({ path, mode: st.mode & 0o777, uid: st.uid, gid: st.gid }).toEqual({ path, mode, uid: 0, gid: 0 });
    }
    expect(existsSync(STOP)).toBe(false);
  });

  it("the agent's next cron run finds the test through the settings file and sends requests and metrics", async () => {
    hits = 0;
    const r = await cronRun(3);
    expect(r.status, r.out).toBe(0);
    // 600 a minute for 3 s is 30 executions.
    expect(hits, r.out).toBeGreaterThanOrEqual(25);
    await statsd.waitFor(() => statsd.lines.some((l) => l.name.startsWith('puppetsys.web.')), { message: r.out });
    expect(r.out).not.toContain(SECRET);
  });

  it('a bad test fails that resource only, and the good file stays byte for byte', () => {
    // A valid frequency, no url: canihaz check refuses it as Puppet's validate_cmd.
    const r = apply(
      'bad test',
      `${canihazClass()}
      canihaz::test { 'web': content => "web|http|600|statsd://127.0.0.1:${statsd.port}|method=GET\\n" }`,
    );
    expect([4, 6], r.out).toContain(r.status);
    expect(r.out).toMatch(/Canihaz::Test\[web\]\/File\[\/etc\/canihaz\/tests\.d\/web\.conf\].*returned 1/);
    expect(r.out).toContain('url:');
    expect(readFileSync(WEB_CONF).equals(goodBytes)).toBe(true);
  });

  it('freeze creates the stop file and a run sends nothing', async () => {
    const r = apply('freeze', `${canihazClass()}\n${webTest()}\ninclude canihaz::freeze`);
    expect([0, 2], r.out).toContain(r.status);
    expect(existsSync(STOP)).toBe(true);
    hits = 0;
    const before = statsd.lines.length;
    const run = await cronRun(2);
    await new Promise((resolve) => setTimeout(resolve, 200)); // anything in flight would have landed
    expect(run.status, run.out).toBe(0);
    expect(hits).toBe(0);
    expect(statsd.lines.length).toBe(before);
  });

  it('thaw removes the stop file, and the same apply again changes nothing', () => {
    const manifest = `${canihazClass()}\n${webTest()}\nclass { 'canihaz::freeze': ensure => absent }`;
    const thaw = apply('thaw', manifest);
    expect([0, 2], thaw.out).toContain(thaw.status);
    expect(existsSync(STOP)).toBe(false);
    const again = apply('idempotent', manifest);
    expect(again.status, again.out).toBe(0);
    expect(readFileSync(WEB_CONF).equals(goodBytes)).toBe(true);
  });

  it('purges a test file Puppet does not manage', () => {
    const stray = join(TESTS_DIR, 'stray.conf');
    const w = sh('install', ['-m', '0644', '/dev/null', stray]);
    expect(w.status, w.out).toBe(0);
    const r = apply('purge', `${canihazClass()}\n${webTest()}`);
    expect(r.status, r.out).toBe(2);
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(WEB_CONF)).toBe(true);
  });

  it('run_with => daemon or timer: without systemd as PID 1 the class refuses, and a forced noop plans to remove the cron file', () => {
    const refused = apply('daemon refused', canihazClass("run_with => 'daemon',"), '--noop');
    expect(refused.status, refused.out).toBe(1);
    expect(refused.out).toContain('canihaz: run_with => daemon needs systemd as PID 1');

    for (const mode of ['daemon', 'timer']) {
      const r = apply(`${mode} noop`, canihazClass(`run_with => '${mode}', manage_units => true,`), '--noop');
      expect(r.out).toContain(`/Stage[main]/Canihaz/File[${CRON}]/ensure: current_value 'file', should be 'absent' (noop)`);
      // The units' provider cannot work without systemd as PID 1: that is the part not tested here.
      expect(r.out).toContain('Service[canihaz.service]: Provider systemd is not functional on this host');
      expect([4, 6], r.out).toContain(r.status);
    }
    expect(existsSync(CRON)).toBe(true);
  });
});
