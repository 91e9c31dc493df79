/**
 * The Debian package, built on demand for system tests (the .deb test, the Puppet module's test).
 *
 * `buildDeb(arch)` returns the absolute path of `dist-pkg/canihaz_<debian-version>_<arch>.deb`, running
 * the packager (`deploy/debian/build.mjs`, what `npm run package` runs after `npm run build`) when that
 * file is missing or older than `dist/cli.js` or any file of deploy/debian, conf/, systemd/,
 * package.json, package-lock.json or README.md. It does not compile: `npm test` (or `npm run build`)
 * builds dist/ first, and a missing dist/cli.js is an error. One build per architecture per process;
 * builds in several processes at once are safe (the packager works in a private staging directory and
 * renames the finished .deb into place).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The packager script. */
export const DEB_BUILDER = fileURLToPath(new URL('../../deploy/debian/build.mjs', import.meta.url));
const CLI_JS = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Besides dist/cli.js, what makes a built .deb stale when it changes. */
const INPUTS = ['deploy/debian', 'conf', 'systemd', 'package.json', 'package-lock.json', 'README.md'];

const builds = new Map<string, Promise<string>>();

/** The path the packager writes for `arch` (Debian name: amd64, arm64; default the host's). */
export async function debPath(arch?: string): Promise<string> {
  const { stdout } = await run(process.execPath, [DEB_BUILDER, '--print-path', ...(arch ? ['--arch', arch] : [])], {
    cwd: ROOT,
  });
  return stdout.trim();
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest mtime of the files a .deb is made of (besides dist/ and the fetched runtime). */
async function newestInput(): Promise<number> {
  let newest = 0;
  for (const rel of INPUTS) {
    const path = join(ROOT, rel);
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    // deploy/debian/runtime/node_modules (CI's `npm ci --prefix deploy/debian/runtime`) is not an input.
    const files = st.isDirectory()
      ? (await readdir(path, { recursive: true })).filter((f) => !f.split('/').includes('node_modules')).map((f) => join(path, f))
      : [path];
    // Files only: a directory's mtime moves when anything (a node_modules) appears in it.
    for (const f of files) {
      const fst = await stat(f).catch(() => undefined);
      if (fst?.isFile()) newest = Math.max(newest, fst.mtimeMs);
    }
  }
  return newest;
}

async function build(arch?: string, level?: string): Promise<string> {
  const deb = await debPath(arch);
  const cli = await mtimeMs(CLI_JS);
  if (cli === undefined) throw new Error(`${CLI_JS} is missing: run \`npm run build\` before building the .deb`);
  const built = await mtimeMs(deb);
  if (built !== undefined && built >= cli && built >= (await newestInput())) return deb;
  try {
    await run(process.execPath, [DEB_BUILDER, ...(arch ? ['--arch', arch] : []), ...(level ? ['-z', level] : [])], {
      cwd: ROOT,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the .deb failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
  return deb;
}

/**
 * Builds the .deb for `arch` (once per process) unless an up-to-date one exists; its absolute path.
 * `level` is the xz level when it must be built (default: the packager's own, what ships); a test that
 * does not check compression may ask for 1, which builds in a quarter of the time.
 */
export function buildDeb(arch?: string, level?: string): Promise<string> {
  const key = arch ?? '';
  let p = builds.get(key);
  if (!p) {
    p = build(arch, level);
    builds.set(key, p);
    p.catch(() => builds.delete(key));
  }
  return p;
}

/**
 * Why the system tests (test/system/) must not run here, or undefined when they may. They change the
 * machine — install and purge the canihaz package, create and delete the canihaz user, write /etc —
 * and a purge would take an operator's own /etc/canihaz with it: they run only when asked, with
 * CANIHAZ_SYSTEM_TESTS=1 or under CI's CANIHAZ_E2E=1 (a disposable machine).
 */
export function systemTestsNotAskedFor(): string | undefined {
  if (process.env.CANIHAZ_E2E === '1' || process.env.CANIHAZ_SYSTEM_TESTS === '1') return undefined;
  return 'not asked for: it installs and purges the canihaz package (with /etc/canihaz) and its user; set CANIHAZ_SYSTEM_TESTS=1 as root on a disposable machine';
}

/** Whether `cmd` is on PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v '${cmd}'`], { stdio: 'ignore' }).status === 0;
}

/** The lock every system test holds while it installs, runs or purges the package. */
export const DPKG_LOCK = '/tmp/canihaz-dpkg.lock';

/**
 * Takes DPKG_LOCK and holds it in a child: release by closing its stdin (`holder.stdin?.end()`); it is
 * released anyway when this process dies.
 */
export function takeDpkgLock(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // `cat` holds the lock until its stdin closes: at afterAll, or when this process dies.
    const child = spawn('flock', [DPKG_LOCK, '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${DPKG_LOCK} exited ${code} before taking the lock`)));
    child.stdout.once('data', () => resolve(child));
  });
}
