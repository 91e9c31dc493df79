/**
 * The journal sink: every test's events of one run, kept in `<state_dir>/journal/<YYYY-MM-DD>.jsonl`.
 * At every 10-second wall-clock boundary it appends the intervals that ended and changed (one record
 * per test and interval, superseding an earlier one of the same run when late completions changed
 * it); it writes the run record when the window starts and again, with the books and how the run
 * ended, at stop, then deletes at most one expired day file. It never throws into the run and never
 * waits: a journal that cannot be written is one warning per run.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Cancel, Clock } from '../clock.js';
import { outcomeOf, TEST_COUNTS, type MetricEvent, type TestCounts } from '../events.js';
import type { Logger } from '../log.js';
import type { MetricSink } from '../metrics/sink.js';
import { createAppender, type Appender } from './appender.js';
import { createJournalIntervals, JOURNAL_INTERVAL_MS, type JournalIntervals } from './intervals.js';
import { encodeRecord, journalDir, JOURNAL_VERSION, type RunEnd, type RunRecord } from './records.js';
import { pruneOneDayFile } from './retention.js';

export interface JournalSinkOptions {
  /** The `state_dir` setting; the journal is its `journal/` directory. */
  stateDir: string;
  /** The `journal_days` setting: day files older than this are deleted, one per run. */
  journalDays: number;
  /** This host's name, as the run knows it. */
  host: string;
  /** The lock slot this copy holds. */
  slot: number;
  /** The window this copy owns, epoch ms. */
  window: { startWall: number; endWall: number };
  clock: Clock;
  logger: Logger;
  /** How the run ended, asked once at stop. */
  ended: () => RunEnd;
  /** The run's id in its records; default 8 random base64url characters. */
  run?: string;
  /** Interval length, ms; default 10 000 (the Graphite sink's). */
  intervalMs?: number;
}

/** The journal sink, with counters for tests and logs. */
export interface JournalSink extends MetricSink {
  readonly run: string;
  /** Records written, and records that could not be. */
  readonly written: number;
  readonly lost: number;
  /** Day file deleted by retention at stop, if any. */
  readonly pruned: string | undefined;
}

/**
 * Interval records encoded per event-loop turn at a flush: building and encoding one costs about 15 µs
 * (percentiles, JSON), so 2,000 tests' flush held the loop ~30 ms in one piece and every tick due
 * meanwhile was late (the bench's 2,000-test case).
 */
export const FLUSH_SLICE_RECORDS = 50;

/** Creates the journal sink of one run. */
export function createJournalSink(options: JournalSinkOptions): JournalSink {
  const { clock, logger, window } = options;
  const intervalMs = options.intervalMs ?? JOURNAL_INTERVAL_MS;
  const run = options.run ?? randomBytes(6).toString('base64url');
  const dir = journalDir(options.stateDir);
  const appender: Appender = createAppender({ dir, stateDir: options.stateDir, logger });
  const intervals: JournalIntervals = createJournalIntervals(run, intervalMs);
  const books = new Map<string, TestCounts>();
  let timer: Cancel | undefined;
  let next = 0;
  let state: 'new' | 'started' | 'stopped' = 'new';
  let pruned: string | undefined;

  const runRecord = (ended: RunEnd | null): RunRecord => ({
    v: JOURNAL_VERSION,
    kind: 'run',
    run,
    host: options.host,
    slot: options.slot,
    start: window.startWall,
    end: window.endWall,
    ended,
    at: clock.wallNow(),
    books: Object.fromEntries([...books].map(([test, b]) => [test, { ...b, started: b.ok + b.failed + b.aborted }])),
  });
  /** A pending slice of a flush (see FLUSH_SLICE_RECORDS). */
  let slice: Cancel | undefined;
  /**
   * Appends the dirty intervals starting before `before` (at most `limit` of them), each to the file of
   * its own day; true when none is left.
   */
  const flush = (before?: number, limit = Infinity): boolean => {
    const byDay = new Map<number, string[]>();
    const records = intervals.takeDirty(before, limit);
    for (const r of records) {
      const day = Math.floor(r.start / 86_400_000);
      const lines = byDay.get(day) ?? [];
      lines.push(encodeRecord(r));
      byDay.set(day, lines);
    }
    for (const [day, lines] of byDay) appender.append(day * 86_400_000, lines);
    return records.length < limit;
  };
  /** Flushes the intervals before `boundary` a slice per event-loop turn, so ticks due meanwhile are not held up. */
  const flushInSlices = (boundary: number) => {
    slice = undefined;
    let done = true;
    guard(() => (done = flush(boundary, FLUSH_SLICE_RECORDS)));
    if (!done && state === 'started') slice = clock.soon(() => flushInSlices(boundary));
  };
  // The next wall-clock boundary, computed afresh at each wake-up (as the Graphite sink's flusher),
  // so timer lateness never accumulates and a wall clock stepped back is followed.
  const schedule = () => {
    timer = clock.after(Math.max(0, next - clock.wallNow()), wake, { unref: true });
  };
  const wake = () => {
    const now = clock.wallNow();
    if (now < next) {
      if (next - now > intervalMs) next = Math.floor(now / intervalMs) * intervalMs + intervalMs;
      schedule();
      return;
    }
    const boundary = Math.floor(now / intervalMs) * intervalMs;
    next = boundary + intervalMs;
    schedule();
    slice?.();
    flushInSlices(boundary);
  };
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      appender.warn(err);
    }
  };

  return {
    name: 'journal',
    run,
    async start() {
      if (state !== 'new') return;
      state = 'started';
      guard(() => appender.append(window.startWall, [encodeRecord(runRecord(null))]));
      next = Math.floor(clock.wallNow() / intervalMs) * intervalMs + intervalMs;
      schedule();
    },
    record(event: MetricEvent) {
      if (state === 'stopped') return;
      try {
        let book = books.get(event.test);
        if (!book) books.set(event.test, (book = Object.fromEntries(TEST_COUNTS.map((k) => [k, 0])) as TestCounts));
        if (event.kind === 'planned') book.requested += event.ticks;
        const counted = outcomeOf(event);
        if (counted) book[counted.outcome] += counted.n;
        intervals.add(event);
      } catch (err) {
        appender.warn(err);
      }
    },
    recordAgent() {},
    async stop() {
      const wasStarted = state === 'started';
      state = 'stopped';
      if (!wasStarted) return;
      timer?.();
      timer = undefined;
      slice?.();
      slice = undefined;
      guard(() => flush());
      guard(() => appender.append(window.startWall, [encodeRecord(runRecord(options.ended()))]));
      guard(() => (pruned = pruneOneDayFile(dir, options.journalDays, clock.wallNow())));
      if (pruned) logger.info('journal: deleted a day file past journal_days', { file: join(dir, pruned), journal_days: options.journalDays });
      if (intervals.lateDiscarded > 0) {
        logger.warn('journal: late completions of intervals already forgotten were not kept', { events: intervals.lateDiscarded });
      }
    },
    get written() {
      return appender.written;
    },
    get lost() {
      return appender.lost;
    },
    get pruned() {
      return pruned;
    },
  };
}

