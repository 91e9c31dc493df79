/**
 * Where the dashboard's figures come from: the journal read over a range, summed as `canihaz report
 * --format json` sums it, plus the chart series. Bounded: one computation at a time (a week of a
 * busy host's journal is many megabytes to read), at most a few waiting, and each answer kept for a
 * few seconds (longer for longer ranges, whose buckets change slowly), so many open pages and their
 * auto-refresh cost one read per range per TTL.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { foldJournal } from '../journal/fold-reader.js';
import { journalDay } from '../journal/records.js';
import type { JournalReport } from '../journal/report-data.js';
import type { JournalSeries } from '../journal/series.js';
import type { DashboardQuery } from './query.js';

/** `GET /api/report`'s body: the report's JSON, its chart series, and where the journal is. */
export type DashboardReport = JournalReport & {
  series: JournalSeries;
  journal: { dir: string; files: number; skippedLines: number };
};

/** Most computations waiting behind the running one; more get `SourceBusy` (503). */
const MAX_WAITING = 4;
/** Most answers cached (distinct ranges asked recently). */
const MAX_CACHED = 16;

/**
 * Most bytes of journal files one request reads. The read streams (journal/fold-reader.ts): its
 * memory does not grow with the range (measured: a week of 50 tests at 600/min, 2.06 GB of files,
 * 264 MB peak RSS, live heap under 120 MB), but its time does, about 14 s per GB on this 2-core
 * machine: beyond this a range is refused, with the size, rather than keep the page waiting minutes.
 */
export const MAX_READ_BYTES = 4 * 1024 * 1024 * 1024;

/** Too many computations are waiting. */
export class SourceBusy extends Error {}
/** The journal files of the range are larger than MAX_READ_BYTES. */
export class RangeTooLarge extends Error {}

/** The bytes of the day files a read of [from, to) opens (as the reader picks them: from the day of from - 2 min). */
async function rangeBytes(dir: string, from: number, to: number): Promise<number> {
  let bytes = 0;
  const first = Date.parse(`${journalDay(from - 120_000)}T00:00:00Z`);
  for (let day = first, n = 0; day < to && n < 10; day += 86_400_000, n++) {
    try {
      bytes += (await stat(join(dir, `${journalDay(day)}.jsonl`))).size;
    } catch {
      // missing: nothing to read; unreadable: the read says so
    }
  }
  return bytes;
}

const mb = (bytes: number) => (bytes >= 1024 * 1_048_576 ? `${(bytes / 1024 / 1_048_576).toFixed(1)} GB` : `${(bytes / 1_048_576).toFixed(0)} MB`);

/** How long an answer over a range of `rangeMs` is kept: 5 s for an hour or a day, up to a minute for a week. */
export function cacheTtlMs(rangeMs: number): number {
  return Math.min(60_000, Math.max(5_000, rangeMs / 10_000));
}

/** The report source: `get` answers a query, from the cache when fresh. */
export interface ReportSource {
  get(query: DashboardQuery): Promise<DashboardReport>;
}

/** Creates the source over the journal directory `dir`; `maxReadBytes` (default MAX_READ_BYTES) for tests. */
export function createReportSource(options: { dir: string; clock: Clock; maxReadBytes?: number }): ReportSource {
  const { dir, clock } = options;
  const maxReadBytes = options.maxReadBytes ?? MAX_READ_BYTES;
  const cache = new Map<string, { at: number; ttl: number; value: Promise<DashboardReport> }>();
  let chain: Promise<unknown> = Promise.resolve();
  let waiting = 0;

  const compute = async (query: DashboardQuery): Promise<DashboardReport> => {
    const bytes = await rangeBytes(dir, query.from, query.to);
    if (bytes > maxReadBytes) {
      throw new RangeTooLarge(`the journal files of this range hold ${mb(bytes)}, more than the dashboard reads at once (${mb(maxReadBytes)}): choose a shorter range, or use canihaz report`);
    }
    const read = await foldJournal(dir, query.from, query.to, { tests: query.tests, series: true });
    const skippedLines = read.skippedLines.reduce((n, s) => n + s.torn + s.bad, 0);
    return { ...read.report, series: read.series!, journal: { dir, files: read.files.length, skippedLines } };
  };

  return {
    get(query) {
      const now = clock.now();
      for (const [key, entry] of cache) if (now - entry.at >= entry.ttl) cache.delete(key);
      const hit = cache.get(query.key);
      if (hit) return hit.value;
      if (waiting >= MAX_WAITING) return Promise.reject(new SourceBusy('too many reports being computed; try again in a few seconds'));
      waiting += 1;
      const value = chain.then(() => compute(query)).finally(() => (waiting -= 1));
      chain = value.catch(() => undefined);
      // A failed read is not kept: the next request tries again.
      value.catch(() => cache.delete(query.key));
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(query.key, { at: now, ttl: cacheTtlMs(query.to - query.from), value });
      return value;
    },
  };
}
