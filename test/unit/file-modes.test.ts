// The StrictModes check shared by the config reader and the scenario-module loader (src/file-modes.ts),
// as a table over owner and mode: no file system, so every case runs whoever runs the tests.
import { describe, expect, it } from 'vitest';
import { checkModes } from '../../src/file-modes.js';

const me = process.geteuid?.() ?? 0;
const other = me === 0 ? 65534 : me + 1;

describe('checkModes (sshd StrictModes)', () => {
  it.each([
    ['a root file 0644', { uid: 0, mode: 0o100644 }, 'file', undefined],
    ['our own file 0600', { uid: me, mode: 0o100600 }, 'file', undefined],
    ['a root directory 0755', { uid: 0, mode: 0o040755 }, 'directory', undefined],
    ['a sticky directory 1777 (like /tmp)', { uid: 0, mode: 0o041777 }, 'directory', undefined],
    ['a group-writable file', { uid: 0, mode: 0o100664 }, 'file', 'is writable by group (mode 0664); refused (strict_modes): run chmod go-w on it, or set strict_modes = off'],
    ['an others-writable file', { uid: 0, mode: 0o100646 }, 'file', 'is writable by others (mode 0646); refused (strict_modes): run chmod go-w on it, or set strict_modes = off'],
    ['a file writable by both', { uid: 0, mode: 0o100666 }, 'file', 'is writable by group and others (mode 0666); refused (strict_modes): run chmod go-w on it, or set strict_modes = off'],
    ['a sticky bit on a file counts for nothing', { uid: 0, mode: 0o101666 }, 'file', 'is writable by group and others (mode 1666); refused (strict_modes): run chmod go-w on it, or set strict_modes = off'],
    ['a group-writable directory', { uid: 0, mode: 0o040775 }, 'directory', 'is writable by group (mode 0775); refused (strict_modes): run chmod go-w on it, or set strict_modes = off'],
    [
      "someone else's file",
      { uid: other, mode: 0o100644 },
      'file',
      `is owned by uid ${other}, not by root or by the user running canihaz (uid ${me}); refused (strict_modes)`,
    ],
  ] as const)('%s', (_what, info, kind, expected) => {
    expect(checkModes(info, kind)).toBe(expected);
  });
});
