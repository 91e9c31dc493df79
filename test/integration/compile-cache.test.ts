import { chmod, chown, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, CLI, runCli, type AgentHome } from '../support/cli.js';

// The compile cache of the bundled CLI (src/cli/compile-cache.ts), through real CLI processes: where it
// is kept, that a second copy uses it, that a bad one is ignored and replaced, and that it can be off.

/** The built dist/cli.js is the bundle's entry (scripts/bundle.mjs), not tsc's copy of src/cli.ts. */
const bundled = async () => (await readFile(CLI, 'utf8')).includes('chunks/main.cjs');

/** An agent home with a state directory of its own (0755, as the package makes it) and one valid test. */
async function home(): Promise<AgentHome & { state: string; temp: string; check: (env?: NodeJS.ProcessEnv) => ReturnType<typeof runCli> }> {
  const h = await agentHome();
  await h.writeConfig('t|http|60|none|url=http://127.0.0.1:9/\n');
  const state = join(h.dir, 'state');
  await mkdir(state, { mode: 0o755 });
  // The fallback goes under os.tmpdir(), which TMPDIR points at: a directory of this test's own.
  const temp = await mkdtemp(join(tmpdir(), 'canihaz-cc-tmp-'));
  const check = (env: NodeJS.ProcessEnv = {}) => runCli(['check', ...h.args, '--state-dir', state], { env: { TMPDIR: temp, CANIHAZ_NO_COMPILE_CACHE: undefined, ...env } });
  return { ...h, state, temp, check };
}

const cacheFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.cache'));

describe('the compile cache', () => {
  it('is built (the bundled entry is dist/cli.js: npx tsc -p tsconfig.build.json && node scripts/bundle.mjs)', async () => {
    expect(await bundled()).toBe(true);
  });

  it('lives in <state_dir>/compile-cache (0700, files 0600); a second copy uses it and leaves it as it is', async () => {
    const h = await home();
    const first = await h.check();
    expect([first.code, first.stdout.trim()]).toEqual([0, 'ok: 1 test in 1 file']);
    const dir = join(h.state, 'compile-cache');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const [file, ...more] = await cacheFiles(dir);
    expect(more).toEqual([]);
    expect(file).toMatch(new RegExp(`^main-[0-9a-f]{16}-${process.version}-${process.arch}-check\\.cache$`));
    const before = await stat(join(dir, file!));
    expect(before.mode & 0o777).toBe(0o600);
    expect(before.size).toBeGreaterThan(1000);

    // Accepted by V8, so not written again: same file (inode), same bytes.
    const second = await h.check();
    expect([second.code, second.stdout.trim()]).toEqual([0, 'ok: 1 test in 1 file']);
    const after = await stat(join(dir, file!));
    expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
    expect(await cacheFiles(h.temp).catch(() => [])).toEqual([]);
  });

  it('a run writes its own cache beside it, and uses it the next minute', async () => {
    const h = await home();
    const args = ['run', ...h.args, '--state-dir', h.state, '--lifetime', '1', '--config', join(h.dir, 'none.conf')];
    expect((await runCli(args)).code).toBe(0);
    const dir = join(h.state, 'compile-cache');
    const [file] = (await cacheFiles(dir)).filter((n) => n.endsWith('-run.cache'));
    expect(file).toBeDefined();
    const before = await stat(join(dir, file!));
    expect((await runCli(args)).code).toBe(0);
    expect((await stat(join(dir, file!))).ino).toBe(before.ino);
  });

  it('regression: a scenario module still imports when the bundle runs from its cache', async () => {
    // Node 20 loses import()'s loader in a script compiled from a code cache: the bundle's import of
    // a module goes through the entry's own import() (scripts/bundle.mjs).
    const h = await home();
    const types = join(h.dir, 'types');
    await mkdir(types, { mode: 0o755 });
    await writeFile(join(types, 'noop.mjs'), 'export default async function () {}\n', { mode: 0o644 });
    await h.writeConfig('s|noop|60|none\n');
    const check = () => runCli(['check', ...h.args, '--state-dir', h.state, '--types-dir', types], { env: { TMPDIR: h.temp } });
    expect(((await check()).stdout + '').trim()).toBe('ok: 1 test in 1 file');
    expect(await cacheFiles(join(h.state, 'compile-cache'))).toHaveLength(1);
    const second = await check();
    expect([second.code, second.stdout.trim(), second.stderr]).toEqual([0, 'ok: 1 test in 1 file', '']);
  });

  it('a corrupt cache file is ignored, the command works, and the file is written anew', async () => {
    const h = await home();
    await h.check();
    const dir = join(h.state, 'compile-cache');
    const [file] = await cacheFiles(dir);
    const size = (await stat(join(dir, file!))).size;
    const garbage = Buffer.alloc(size, 0x5a);
    await writeFile(join(dir, file!), garbage, { mode: 0o600 });
    const r = await h.check();
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, 'ok: 1 test in 1 file', '']);
    expect((await readFile(join(dir, file!))).equals(garbage)).toBe(false);
  });

  it('CANIHAZ_NO_COMPILE_CACHE=1 writes none, anywhere', async () => {
    const h = await home();
    const r = await h.check({ CANIHAZ_NO_COMPILE_CACHE: '1' });
    expect(r.code).toBe(0);
    expect(await readdir(h.state)).toEqual([]);
    expect(await readdir(h.temp)).toEqual([]);
  });

  it('falls back to a 0700 directory of this user under the temp dir when the state dir cannot hold it', async () => {
    const h = await home();
    // A state "directory" that is a file: nothing can be made in it.
    const notADir = join(h.dir, 'state-file');
    await writeFile(notADir, '');
    const r = await runCli(['check', ...h.args, '--state-dir', notADir], { env: { TMPDIR: h.temp } });
    expect(r.code).toBe(0);
    const fallback = join(h.temp, `canihaz-compile-cache-${process.geteuid!()}`);
    expect((await stat(fallback)).mode & 0o777).toBe(0o700);
    expect(await cacheFiles(fallback)).toHaveLength(1);
  });

  it('never trusts a cache directory others can write, nor a cache file that is not this user\'s', async () => {
    const h = await home();
    await h.check();
    const dir = join(h.state, 'compile-cache');
    // Group- and world-writable: someone else could have planted a file; the temp fallback is used.
    await chmod(dir, 0o777);
    expect((await h.check()).code).toBe(0);
    expect(await cacheFiles(join(h.temp, `canihaz-compile-cache-${process.geteuid!()}`))).toHaveLength(1);
    await chmod(dir, 0o700);
    if (process.geteuid!() !== 0) return; // chown to another user needs root
    // A file of another user's in our own directory: not read, and replaced by one of ours.
    const [file] = await cacheFiles(dir);
    await chown(join(dir, file!), 65534, 65534);
    const r = await h.check();
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect((await stat(join(dir, file!))).uid).toBe(process.geteuid!());
  });
});
