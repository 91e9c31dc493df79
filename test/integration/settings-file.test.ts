/**
 * readSettingsFile on a real filesystem (moved from test/unit/settings.test.ts: unit tests stay
 * pure): a FIFO, a symlink loop, a missing file, and strict_modes on mode and owner.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettingsFile } from '../../src/config/settings.js';

describe('readSettingsFile: refuses what is not a regular file, never blocking', () => {
  const dir = () => mkdtemp(join(tmpdir(), 'canihaz-settings-'));

  it('a FIFO as the settings file is refused at once', async () => {
    const d = await dir();
    const fifo = join(d, 'canihaz.conf');
    execFileSync('mkfifo', [fifo]);
    expect(await readSettingsFile(fifo, false)).toEqual({ status: 'unreadable', message: `${fifo}: is a FIFO (named pipe), not a regular file; refused` });
  });

  it('a symlink loop is refused, a missing default file is fine, a missing named file is not', async () => {
    const d = await dir();
    await symlink(join(d, 'b'), join(d, 'a'));
    await symlink(join(d, 'a'), join(d, 'b'));
    expect(await readSettingsFile(join(d, 'a'), false)).toMatchObject({ status: 'unreadable', message: expect.stringContaining('symlink loop') });
    expect(await readSettingsFile(join(d, 'none'), false)).toEqual({ status: 'missing' });
    expect(await readSettingsFile(join(d, 'none'), true)).toEqual({ status: 'unreadable', message: `${join(d, 'none')}: no such file` });
  });

  it('strict_modes: a settings file writable by group or others is refused unless strictModes is off', async () => {
    const d = await dir();
    const file = join(d, 'canihaz.conf');
    await writeFile(file, 'prefix = x\n');
    await chmod(file, 0o644);
    expect(await readSettingsFile(file, true)).toMatchObject({ status: 'ok', raw: { prefix: 'x' } });
    await chmod(file, 0o664);
    expect(await readSettingsFile(file, true)).toEqual({
      status: 'unreadable',
      message: `${file}: is writable by group (mode 0664); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    });
    await chmod(file, 0o646);
    expect(await readSettingsFile(file, true)).toMatchObject({ status: 'unreadable', message: expect.stringContaining('writable by others (mode 0646)') });
    expect(await readSettingsFile(file, true, { strictModes: false })).toMatchObject({ status: 'ok', raw: { prefix: 'x' } });
  });

  it.skipIf(process.geteuid?.() !== 0)('strict_modes: a settings file owned by another user is refused (run as root)', async () => {
    const d = await dir();
    const file = join(d, 'canihaz.conf');
    await writeFile(file, 'prefix = x\n', { mode: 0o644 });
    await chown(file, 65534, 65534);
    expect(await readSettingsFile(file, true)).toMatchObject({ status: 'unreadable', message: expect.stringContaining('is owned by uid 65534, not by root or by the user running canihaz') });
  });
});
