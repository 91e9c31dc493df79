/**
 * Retention: a day file is deleted once the whole of its UTC day lies more than `journal_days` × 24 h
 * in the past, so the journal always holds at least the last `journal_days` days. A run deletes at
 * most one file (the oldest due), so a host that was off for a month catches up over a month of runs
 * instead of one run spending its time deleting.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { JOURNAL_FILE } from './records.js';

/** Default and bounds of the `journal_days` setting. */
export const DEFAULT_JOURNAL_DAYS = 7;
export const MIN_JOURNAL_DAYS = 1;
export const MAX_JOURNAL_DAYS = 366;

const DAY_MS = 86_400_000;

/** The day files of `dir` past retention at `nowWall`, oldest first (names only). */
export function expiredDayFiles(names: readonly string[], journalDays: number, nowWall: number): string[] {
  const cutoff = nowWall - journalDays * DAY_MS;
  return names
    .filter((name) => {
      const day = JOURNAL_FILE.exec(name)?.[1];
      const start = day === undefined ? NaN : Date.parse(`${day}T00:00:00Z`);
      return Number.isFinite(start) && start + DAY_MS <= cutoff;
    })
    .sort();
}

/**
 * Deletes the oldest expired day file of `dir`, if any, and returns its name. Throws what the file
 * system throws (the caller warns once); a missing directory is nothing to delete.
 */
export function pruneOneDayFile(dir: string, journalDays: number, nowWall: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const oldest = expiredDayFiles(names, journalDays, nowWall)[0];
  if (oldest === undefined) return undefined;
  unlinkSync(join(dir, oldest));
  return oldest;
}
