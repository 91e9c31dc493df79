import { constants } from 'node:fs';
import { access, lstat, mkdir, readlink, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CanihazError } from '../errors.js';
import type { Logger } from '../log.js';

/** How many copies may run at once per lock directory. */
export const DEFAULT_SLOTS = 3;
/** A slot whose lock has not been refreshed for this long belongs to a dead process and is reclaimed. */
export const DEFAULT_STALE_MS = 10_000;
/** The shortest `staleMs` allowed: shorter ones risk a busy-but-alive holder losing its slot. */
export const MIN_STALE_MS = 10_000;

/** Options of `acquireSlot`. */
export interface LockSlotsOptions {
  /** Directory holding the slot files; created (mode 0o755) when missing. */
  dir: string;
  /** How many slots exist. Default `DEFAULT_SLOTS`. */
  slots?: number;
  /** Age (ms) after which a holder's lock counts as abandoned; at least `MIN_STALE_MS`. Default `DEFAULT_STALE_MS`. */
  staleMs?: number;
  /** How often (ms) the holder refreshes its lock. Default `staleMs / 2` (proper-lockfile's default). */
  updateMs?: number;
  /** Called once if the held slot is lost (its lock removed or not refreshed in time); must not throw. */
  onCompromised: (err: Error) => void;
  logger: Logger;
}

/** One lock slot held by this process. */
export interface HeldSlot {
  /** 1-based slot number. */
  readonly slot: number;
  /** Gives the slot back; safe to call more than once, never throws. */
  release(): Promise<void>;
}

/**
 * Creates `dir` (recursive, mode 0o755) if missing; tries slot-1..slot-N in order; returns the first slot won
 * or null when all are held. Throws `CanihazError('E_LOCK')` when the directory cannot be created or written.
 *
 * Each slot is a proper-lockfile lock: an atomic `mkdir` of `slot-N.lock` whose mtime the holder refreshes
 * every `updateMs`. A process killed with SIGKILL leaves its `slot-N.lock` behind; the slot is reclaimed by
 * the first caller to see its mtime older than `staleMs`, i.e. between `staleMs - updateMs` and `staleMs` + 1 s
 * after the kill (proper-lockfile stamps a new lock up to 1 s into the future while probing mtime precision).
 * On any exit it can see (normal end, uncaught error, a catchable signal) proper-lockfile removes held locks itself.
 *
 * Known race in proper-lockfile's stale reclaim: judging a lock stale (stat), removing it (rmdir) and taking
 * it (mkdir) are three steps, not one. Two processes that both judge the same dead holder's lock stale at the
 * same moment can interleave so that one removes the lock the other has just re-created; both then believe
 * they hold the slot. The loser finds out at its next refresh (the mtime is no longer its own) and gets
 * `onCompromised`. In practice this can only happen right when a dead holder's slot is reclaimed, and costs
 * at most one brief extra copy.
 */
export async function acquireSlot(options: LockSlotsOptions): Promise<HeldSlot | null> {
  const { dir, logger } = options;
  const slots = options.slots ?? DEFAULT_SLOTS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`Expected \`slots\` to be a whole number >= 1, got ${slots}`);
  if (!Number.isFinite(staleMs) || staleMs < MIN_STALE_MS) {
    throw new RangeError(`Expected \`staleMs\` to be at least ${MIN_STALE_MS}, got ${staleMs}`);
  }
  if (options.updateMs !== undefined && !(options.updateMs > 0 && options.updateMs <= staleMs / 2)) {
    throw new RangeError(`Expected \`updateMs\` to be > 0 and <= staleMs / 2 (${staleMs / 2}), got ${options.updateMs}`);
  }

  await prepareLockDir(dir);
  // proper-lockfile (and graceful-fs, which it loads and which patches fs) only once a slot is tried:
  // a copy that finds the stop file never loads it.
  const { lock } = await import('proper-lockfile');

  for (let slot = 1; slot <= slots; slot++) {
    const file = join(dir, `slot-${slot}`);
    try {
      // The slot file itself is never locked or read: it marks the slot for operators and proves the
      // directory is writable before we try to lock (flag 'a' creates it without truncating).
      await writeFile(file, '', { flag: 'a', mode: 0o644 });
    } catch (err) {
      throw lockError(`cannot write lock slot files in ${dir}`, err);
    }
    let compromised = false;
    let unlock: () => Promise<void>;
    try {
      unlock = await lock(file, {
        realpath: false,
        stale: staleMs,
        ...(options.updateMs !== undefined ? { update: options.updateMs } : {}),
        retries: 0,
        // proper-lockfile's default throws from a timer, which would crash the run; report it instead.
        onCompromised: (err) => {
          compromised = true;
          logger.warn('lock slot lost', { slot, dir, error: err.message });
          try {
            options.onCompromised(err);
          } catch (cbErr) {
            logger.error('onCompromised handler threw (a bug)', { error: (cbErr as Error)?.message ?? String(cbErr) });
          }
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
        logger.debug('lock slot busy', { slot, dir });
        continue;
      }
      throw lockError(`cannot lock slot ${slot} in ${dir}`, err);
    }
    logger.debug('lock slot acquired', { slot, dir });
    let released: Promise<void> | undefined;
    return {
      slot,
      release() {
        released ??= (async () => {
          if (compromised) return;
          try {
            await unlock();
            logger.debug('lock slot released', { slot, dir });
          } catch (err) {
            logger.warn('lock slot release failed', { slot, dir, error: (err as Error)?.message ?? String(err) });
          }
        })();
        return released;
      },
    };
  }
  logger.debug('all lock slots busy', { slots, dir });
  return null;
}

/**
 * Makes `dir` a directory this process can create lock files in, creating it and its parents when
 * missing; throws `CanihazError('E_LOCK')` naming the directory and the reason otherwise.
 *
 * Node's recursive mkdir is not used: under /proc it never returns (spinning at full CPU, deaf to
 * SIGTERM, while cron starts another copy every minute), it reports some failures misleadingly (ENOENT
 * on a read-only mount, ENOTDIR naming the wrong path when a component is a dangling symlink), and its
 * success does not prove a usable directory. So what is on disk is checked, and a missing directory
 * is created by walking the path one component at a time with plain mkdir, which is bounded by the
 * path's length and reports the real reason.
 */
async function prepareLockDir(dir: string): Promise<void> {
  let problem = await usableDirProblem(dir);
  if (problem === MISSING) {
    for (const path of selfAndAncestors(resolve(dir)).reverse()) {
      const why = await createDirProblem(path);
      if (why) throw new CanihazError('E_LOCK', `cannot create lock directory ${dir}: ${why}`);
    }
    problem = await usableDirProblem(dir);
  }
  if (problem === MISSING) problem = 'it was removed while being created';
  if (problem) throw new CanihazError('E_LOCK', `cannot use lock directory ${dir}: ${problem}`);
}

/** `/a/b/c` → `['/a/b/c', '/a/b', '/a', '/']`. */
function selfAndAncestors(path: string): string[] {
  const out = [path];
  while (dirname(out.at(-1)!) !== out.at(-1)) out.push(dirname(out.at(-1)!));
  return out;
}

const MISSING = 'missing';

/** Why `dir` is not a writable directory (MISSING when nothing is there), or undefined when it is one. */
async function usableDirProblem(dir: string): Promise<string | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) return 'it exists and is not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? MISSING : describeFsError(err);
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `it is not writable: ${describeFsError(err)}`;
  }
  return undefined;
}

/** Creates one path component if it is missing; returns why it is not (or cannot become) a directory. */
async function createDirProblem(path: string): Promise<string | undefined> {
  try {
    if ((await stat(path)).isDirectory()) return undefined;
    return `${path} exists and is not a directory`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${path}: ${describeFsError(err)}`;
  }
  const link = await lstat(path).catch(() => undefined);
  if (link?.isSymbolicLink()) {
    const target = await readlink(path).catch(() => '?');
    return `${path} is a symbolic link to ${target}, which does not exist`;
  }
  try {
    await mkdir(path, { mode: 0o755 });
    return undefined;
  } catch (err) {
    // Another copy may have created it in between: that is success.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(path).catch(() => undefined))?.isDirectory()) return undefined;
    // Its parent exists (the walk just made sure), so ENOENT means a file system that does not take
    // new directories (/proc, /sys).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `cannot create ${path}: its file system does not allow new directories there (ENOENT)`;
    return `cannot create ${path}: ${describeFsError(err)}`;
  }
}

/** An fs error as a short reason an operator can act on, with its code. */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason = code ? FS_REASONS[code] : undefined;
  return reason ? `${reason} (${code})` : ((err as Error)?.message ?? String(err));
}

const FS_REASONS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many levels of symbolic links',
  ENOTDIR: 'a component of the path is not a directory',
  ENAMETOOLONG: 'the path is too long',
  EIO: 'input/output error',
};

function lockError(what: string, err: unknown): CanihazError {
  const reason = describeFsError(err);
  return new CanihazError('E_LOCK', `${what}: ${reason}`, { cause: err });
}
