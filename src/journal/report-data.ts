/**
 * What `canihaz report` (and the dashboard) says about a range of the journal: per test, the sums of
 * its interval records, latency percentiles from their merged histograms (never averaged from
 * per-interval percentiles), executions per minute of the time it ran; the runs; the minutes copies
 * skipped because every lock slot was busy. The sums are fold.ts's; this is the form over records
 * already in memory (`readJournal`'s), `foldJournal` (fold-reader.ts) the one that streams a range.
 */
import { createJournalFold } from './fold.js';
import type { JournalRange } from './reader.js';
import type { JournalReport } from './report-types.js';

export type { JournalReport, RunReport, TestReport, TimingReport } from './report-types.js';

/** Sums `range` into a report of [from, to), for `tests` only when given (and not empty). */
export function summariseJournal(range: JournalRange, query: { from: number; to: number; tests?: readonly string[] }): JournalReport {
  const fold = createJournalFold({ from: query.from, to: query.to, tests: query.tests });
  range.intervals.forEach((r, i) => fold.interval(r, i));
  for (const r of range.runs) fold.run(r);
  for (const r of range.skipped) fold.skipped(r);
  return fold.result().report;
}
