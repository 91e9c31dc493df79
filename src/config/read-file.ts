import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { checkModes } from '../file-modes.js';

/** Why a config file was not read; `missing` is the only one that is not a problem in itself. */
export type ReadRefusal = { status: 'missing' } | { status: 'refused'; message: string };

/** What reading a config file gave: its text, or why not. */
export type ReadFileResult = { status: 'ok'; text: string } | ReadRefusal;

/** How config files are read. */
export interface ReadConfigFileOptions {
  /** Refuse files (and directories) writable by group or others, or owned by anyone but root and us. */
  strictModes: boolean;
}

/**
 * Reads one config or settings file without ever blocking on it. Anything but a regular file (a
 * FIFO, a socket, a device, a directory) is refused: it is opened with O_NONBLOCK, so even a FIFO
 * with no writer returns at once, then the open descriptor is checked with fstat and only then read,
 * so what is checked is what is read (a file swapped between the check and the read cannot slip
 * through). With `strictModes`, the file's owner and mode are checked too (see `checkModes` in file-modes.ts).
 * Never throws.
 */
export async function readConfigFile(path: string, options: ReadConfigFileOptions): Promise<ReadFileResult> {
  // stat first (it never blocks) so a FIFO or device is refused without even being opened.
  try {
    const before = await stat(path);
    const bad = notRegular(before);
    if (bad) return { status: 'refused', message: `${path}: ${bad}` };
  } catch (err) {
    return describeError(path, err);
  }
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return describeError(path, err);
  }
  try {
    const info = await handle.stat();
    const bad = notRegular(info) ?? tooLarge(info) ?? (options.strictModes ? checkModes(info, 'file') : undefined);
    if (bad) return { status: 'refused', message: `${path}: ${bad}` };
    return { status: 'ok', text: await handle.readFile('utf8') };
  } catch (err) {
    return describeError(path, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Largest config or settings file read, bytes: about 300,000 test lines. A larger one is a mistake
 * (a log file named as the config) that would cost the host its memory on every run.
 */
export const MAX_CONFIG_FILE_BYTES = 32 * 1024 * 1024;

/** Why `info` is too large to read, or undefined. */
function tooLarge(info: Stats): string | undefined {
  if (info.size <= MAX_CONFIG_FILE_BYTES) return undefined;
  const mib = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
  return `is ${mib(info.size)}, larger than the ${mib(MAX_CONFIG_FILE_BYTES)} a config file may be; refused`;
}

/** Why `info` is not a regular file, or undefined when it is. */
function notRegular(info: Stats): string | undefined {
  if (info.isFile()) return undefined;
  const what = info.isDirectory()
    ? 'a directory'
    : info.isFIFO()
      ? 'a FIFO (named pipe)'
      : info.isSocket()
        ? 'a socket'
        : info.isCharacterDevice() || info.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
  return `is ${what}, not a regular file; refused`;
}

/** A filesystem error as a refusal naming the path; ENOENT is `missing`. */
export function describeError(path: string, err: unknown): ReadRefusal {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return { status: 'missing' };
    case 'EACCES':
    case 'EPERM':
      return { status: 'refused', message: `${path}: permission denied` };
    case 'EISDIR':
      return { status: 'refused', message: `${path}: is a directory` };
    case 'ENOTDIR':
      return { status: 'refused', message: `${path}: a parent is not a directory` };
    case 'ELOOP':
      return { status: 'refused', message: `${path}: too many levels of symbolic links (a symlink loop)` };
    default:
      return { status: 'refused', message: `${path}: ${e.message}` };
  }
}
