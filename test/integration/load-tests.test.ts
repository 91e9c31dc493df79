// loadTests reads files: directories of *.conf, FIFOs and symlinks refused, strict_modes. Moved from
// test/unit/tests-file.test.ts (unit tests stay pure; what touches the filesystem is integration).
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, chmod, chown, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTests } from '../../src/config/load-tests.js';
import { formatLineError } from '../../src/config/tests-file.js';
import { httpProbeType } from '../../src/probes/http.js';
import { createProbeRegistry } from '../../src/probes/registry.js';
import { fakeProbeType } from '../support/fake-probe.js';

const fake = fakeProbeType();
const opts = { probeTypes: createProbeRegistry([fake, httpProbeType]) };

describe('loadTests', () => {
  it('reads a directory of *.conf files in name order with names unique across files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    await writeFile(join(dir, 'b.conf'), 'shared|fake|2|none\nb1|fake|1|none\n');
    await writeFile(join(dir, 'a.conf'), 'shared|fake|1|none\n');
    await writeFile(join(dir, 'ignored.txt'), 'x|fake|1|none\n');
    await writeFile(join(dir, '.hidden.conf'), 'y|fake|1|none\n');
    await mkdir(join(dir, 'sub.conf'));
    const loaded = await loadTests(dir, opts);
    expect(loaded.status).toBe('ok');
    expect(loaded.specs.map((s) => `${s.name}@${s.file.slice(dir.length + 1)}:${s.line}`)).toEqual(['shared@a.conf:1', 'b1@b.conf:2']);
    expect(loaded.errors.map(formatLineError)).toEqual([`${dir}/b.conf:1: name: "shared" is already used at ${dir}/a.conf:1`]);
  });

  it('says missing for a path that does not exist', async () => {
    expect((await loadTests('/nonexistent/canihaz/tests.conf', opts)).status).toBe('missing');
  });

  it('says unreadable, naming why, when a parent of the path is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    await writeFile(join(dir, 'file'), '');
    const path = join(dir, 'file', 'tests.conf');
    expect(await loadTests(path, opts)).toMatchObject({ status: 'unreadable', message: `${path}: a parent is not a directory` });
  });

  it.skipIf(process.getuid?.() === 0)('says unreadable for a file it may not read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    const file = join(dir, 't.conf');
    await writeFile(file, 'a|fake|1|none');
    await chmod(file, 0o000);
    const loaded = await loadTests(file, opts);
    expect(loaded).toMatchObject({ status: 'unreadable', message: `${file}: permission denied` });
  });
});

describe('loadTests: a FIFO as the tests file (or a *.conf symlink to one) hangs check and run forever — refused, never opened for a blocking read', () => {
  const home = () => mkdtemp(join(tmpdir(), 'canihaz-conf-'));
  /** Fails rather than hangs if loadTests blocks on what it finds. */
  const bounded = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('loadTests blocked')), 2_000).unref())]);

  it('a FIFO as the tests file is unreadable, at once', async () => {
    const dir = await home();
    const fifo = join(dir, 'tests.conf');
    execFileSync('mkfifo', [fifo]);
    expect(await bounded(loadTests(fifo, opts))).toEqual({
      status: 'unreadable',
      message: `${fifo}: is a FIFO (named pipe), not a regular file; refused`,
      specs: [],
      errors: [],
    });
  });

  it('a symlink to a FIFO, a symlink loop, a device and a FIFO in a config directory are errors for those files only', async () => {
    const dir = await home();
    const other = await home();
    await writeFile(join(dir, 'a.conf'), 'a|fake|1|none\n');
    execFileSync('mkfifo', [join(other, 'pipe')]);
    await symlink(join(other, 'pipe'), join(dir, 'b.conf'));
    execFileSync('mkfifo', [join(dir, 'c.conf')]);
    await symlink(join(dir, 'd.conf'), join(dir, 'd.conf'));
    await symlink('/dev/null', join(dir, 'e.conf'));
    await writeFile(join(dir, 'f.conf'), 'f|fake|1|none\n');
    const loaded = await bounded(loadTests(dir, opts));
    expect(loaded.status).toBe('ok');
    expect(loaded.specs.map((s) => s.name)).toEqual(['a', 'f']);
    expect(loaded.errors.map(formatLineError)).toEqual([
      `${dir}/b.conf:0: file: is a FIFO (named pipe), not a regular file; refused`,
      `${dir}/c.conf:0: file: is a FIFO (named pipe), not a regular file; refused`,
      `${dir}/d.conf:0: file: too many levels of symbolic links (a symlink loop)`,
      `${dir}/e.conf:0: file: is a device, not a regular file; refused`,
    ]);
    expect(loaded.status === 'ok' && loaded.unreadableFiles).toEqual([`${dir}/b.conf`, `${dir}/c.conf`, `${dir}/d.conf`, `${dir}/e.conf`]);
  });

  it('a directory given where a file is expected, through a symlink named *.conf, is an error for that entry', async () => {
    const dir = await home();
    const sub = await home();
    await symlink(sub, join(dir, 'linked.conf'));
    const loaded = await loadTests(dir, opts);
    expect(loaded.errors.map(formatLineError)).toEqual([`${dir}/linked.conf:0: file: is a directory, not a regular file; refused`]);
  });
});

describe('loadTests: strict_modes (like sshd StrictModes)', () => {
  const home = () => mkdtemp(join(tmpdir(), 'canihaz-conf-'));

  it('refuses a tests file writable by group or others, and its directory likewise; strictModes false relaxes it', async () => {
    const dir = await home();
    const file = join(dir, 'tests.conf');
    await writeFile(file, 'a|fake|1|none\n');
    await chmod(file, 0o644);
    expect((await loadTests(file, opts)).specs).toHaveLength(1);
    await chmod(file, 0o666);
    expect(await loadTests(file, opts)).toMatchObject({
      status: 'unreadable',
      message: `${file}: is writable by group and others (mode 0666); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    });
    expect((await loadTests(file, { ...opts, strictModes: false })).specs).toHaveLength(1);
    await chmod(file, 0o644);
    await chmod(dir, 0o770);
    expect(await loadTests(file, opts)).toMatchObject({
      status: 'unreadable',
      message: `${dir} (the directory of ${file}): is writable by group (mode 0770); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    });
    // A sticky directory (like /tmp) is fine: others cannot replace or remove our file in it.
    await chmod(dir, 0o1777);
    expect((await loadTests(file, opts)).specs).toHaveLength(1);
  });

  it('in a config directory: a writable directory refuses everything, a writable *.conf only itself', async () => {
    const dir = await home();
    await writeFile(join(dir, 'a.conf'), 'a|fake|1|none\n', { mode: 0o644 });
    await writeFile(join(dir, 'b.conf'), 'b|fake|1|none\n', { mode: 0o644 });
    await chmod(join(dir, 'b.conf'), 0o620);
    const loaded = await loadTests(dir, opts);
    expect(loaded.specs.map((s) => s.name)).toEqual(['a']);
    expect(loaded.errors.map(formatLineError)).toEqual([
      `${dir}/b.conf:0: file: is writable by group (mode 0620); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    ]);
    await chmod(dir, 0o757);
    expect(await loadTests(dir, opts)).toMatchObject({ status: 'unreadable', message: expect.stringContaining(`${dir}: is writable by others (mode 0757)`) });
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a tests file owned by someone other than root or the running user (run as root)', async () => {
    const dir = await home();
    const file = join(dir, 'tests.conf');
    await writeFile(file, 'a|fake|1|none\n', { mode: 0o644 });
    await chown(file, 65534, 65534);
    expect(await loadTests(file, opts)).toMatchObject({
      status: 'unreadable',
      message: `${file}: is owned by uid 65534, not by root or by the user running canihaz (uid 0); refused (strict_modes)`,
    });
    expect((await loadTests(file, { ...opts, strictModes: false })).specs).toHaveLength(1);
  });
});
