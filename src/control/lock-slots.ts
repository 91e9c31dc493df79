import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
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

  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw lockError(`cannot create lock directory ${dir}`, err);
  }

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

function lockError(what: string, err: unknown): CanihazError {
  const reason = (err as Error)?.message ?? String(err);
  return new CanihazError('E_LOCK', `${what}: ${reason}`, { cause: err });
}
