/**
 * Reads a range of the journal in bounded memory: the day files line by line, each interval record
 * held only while a later record could still supersede it, then added to the running sums (fold.ts)
 * and dropped. When a record is final (proof from intervals.ts and journal-sink.ts):
 * - A run re-sends interval s only while it holds it, and at every flush it forgets the written
 *   intervals older than its newest event less JOURNAL_RETAIN_MS; so once a record of the run with
 *   start t has been read, its intervals before t - JOURNAL_RETAIN_MS are final (a margin of two
 *   intervals on top).
 * - A run writes its last run record (with how it ended) after its last flush: then all its
 *   intervals read so far are final.
 * - A run stops within seconds of its window's end (run.ts: FLUSH_DEADLINE_MS), and a record is
 *   written after its interval starts: once a record starting SUPERSEDE_HORIZON_MS past a run's
 *   window end has been read from the same file, that run (killed, if it never said it ended) has
 *   written its last, and its intervals are final.
 * - Every record of an interval is in the file of its start's UTC day: at the end of a day file its
 *   intervals are final.
 * So at most the last few minutes of each run are held, whatever the range.
 */
import { join } from 'node:path';
import { createJournalFold, type FoldQuery } from './fold.js';
import { JOURNAL_INTERVAL_MS, JOURNAL_RETAIN_MS } from './intervals.js';
import { forEachLine, MAX_DAYS, RUN_LOOKBACK_MS, type SkippedLines } from './reader.js';
import { decodeRecord, journalDay, type IntervalRecord } from './records.js';
import type { JournalReport, JournalSeries } from './report-types.js';

/** How far behind a run's newest interval record one of its intervals may still be re-sent, ms. */
export const SUPERSEDE_HORIZON_MS = JOURNAL_RETAIN_MS + 2 * JOURNAL_INTERVAL_MS;
const DAY_MS = 86_400_000;

/** What a streamed read of a range gives. */
export interface FoldedJournal {
  report: JournalReport;
  /** The chart series, when asked. */
  series: JournalSeries | undefined;
  /** Files with lines that were skipped. */
  skippedLines: SkippedLines[];
  /** Day files found and read. */
  files: string[];
  /** Most interval records held at once (waiting to be final). */
  heldMost: number;
}

interface Held {
  record: IntervalRecord;
  /** The order its key was first read: the tie-break of equal starts, as `readJournal`'s order. */
  seq: number;
}

/**
 * Reads `[fromWall, toWall)` of the journal in `dir` as `readJournal` does (the same files, lines,
 * superseding) and folds it into the report (and the series with `query.series`), for `query.tests`
 * only when given. A missing directory or day file is no records; other errors throw.
 */
export async function foldJournal(dir: string, fromWall: number, toWall: number, query: Omit<FoldQuery, 'from' | 'to'> = {}): Promise<FoldedJournal> {
  const fold = createJournalFold({ ...query, from: fromWall, to: toWall });
  const only = query.tests && query.tests.length > 0 ? new Set(query.tests) : undefined;
  const held = new Map<string, Held>();
  /** Per run: its newest interval start read and the keys it has held. */
  const runs = new Map<string, { newest: number; keys: Set<string> }>();
  /** Each run's window end, from its run records. */
  const ends = new Map<string, number>();
  /** The newest interval start read in the current file, and when runs were last checked against it. */
  let newest = -Infinity;
  let checked = -Infinity;
  const skippedLines: SkippedLines[] = [];
  const files: string[] = [];
  let seq = 0;
  let heldMost = 0;

  const settle = (key: string) => {
    const h = held.get(key);
    if (!h) return;
    held.delete(key);
    fold.interval(h.record, h.seq);
  };
  const settleRun = (run: string, before: number) => {
    const state = runs.get(run);
    if (!state) return;
    for (const key of state.keys) {
      const h = held.get(key);
      if (h && h.record.start >= before) continue;
      settle(key);
      state.keys.delete(key);
    }
  };
  const take = (r: IntervalRecord) => {
    const key = `${r.run}\u0000${r.test}\u0000${r.start}`;
    const h = held.get(key);
    if (h) h.record = r;
    else held.set(key, { record: r, seq: seq++ });
    let state = runs.get(r.run);
    if (!state) runs.set(r.run, (state = { newest: r.start, keys: new Set() }));
    state.keys.add(key);
    if (held.size > heldMost) heldMost = held.size;
    if (r.start > state.newest) {
      state.newest = r.start;
      settleRun(r.run, r.start - SUPERSEDE_HORIZON_MS);
    }
    newest = Math.max(newest, r.start);
    if (newest >= checked + JOURNAL_INTERVAL_MS) {
      checked = newest;
      for (const run of runs.keys()) {
        const end = ends.get(run);
        if (end === undefined || end + SUPERSEDE_HORIZON_MS >= newest) continue;
        settleRun(run, Infinity);
        runs.delete(run);
      }
    }
  };

  const firstDay = Date.parse(`${journalDay(fromWall - RUN_LOOKBACK_MS)}T00:00:00Z`);
  for (let day = firstDay, n = 0; day < toWall && n < MAX_DAYS; day += DAY_MS, n++) {
    const file = join(dir, `${journalDay(day)}.jsonl`);
    const counts = { file, torn: 0, bad: 0 };
    newest = checked = -Infinity;
    const found = await forEachLine(file, (line, last) => {
      if (line === '') return;
      if (last) {
        counts.torn += 1;
        return;
      }
      const r = decodeRecord(line);
      if (!r) counts.bad += 1;
      else if (r.kind === 'interval') {
        if (r.start >= fromWall && r.start < toWall && !(only && !only.has(r.test))) take(r);
      } else if (r.kind === 'run') {
        fold.run(r);
        ends.set(r.run, r.end);
        if (r.ended !== null) {
          settleRun(r.run, Infinity);
          runs.delete(r.run);
        }
      } else fold.skipped(r);
    });
    // Every record of an interval is in its start day's file: this day's are final.
    for (const [key, h] of held) if (h.record.start < day + DAY_MS) settle(key);
    for (const [run, state] of runs) {
      for (const key of state.keys) if (!held.has(key)) state.keys.delete(key);
      if (state.keys.size === 0) runs.delete(run);
    }
    if (!found) continue;
    files.push(file);
    if (counts.torn + counts.bad > 0) skippedLines.push(counts);
  }
  for (const key of [...held.keys()]) settle(key);
  const { report, series } = fold.result();
  return { report, series, skippedLines, files, heldMost };
}
