/**
 * Reads the journal over a time range: the day files the range touches, line by line in bounded
 * chunks, keeping the last record per (run, test, interval start) and per run, so superseding records
 * win. A last line without its newline (a copy killed mid-write, or one writing right now) is torn and
 * skipped; any other line that is not a record of this version is skipped too; both are counted.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { decodeRecord, journalDay, type IntervalRecord, type RunRecord, type SkippedRecord } from './records.js';

/** Bytes read at a time. */
const CHUNK_BYTES = 1024 * 1024;
/** Most day files one read visits (a year and a bit, as `journal_days` allows). */
export const MAX_DAYS = 400;
/** How far before its window's start day a run record may be looked for: a run is filed under its window start's day. */
export const RUN_LOOKBACK_MS = 120_000;

/** What one file held that was not a record. */
export interface SkippedLines {
  file: string;
  /** A last line without its newline. */
  torn: number;
  /** Lines that are not a record (garbage, another version, a damaged record). */
  bad: number;
}

/** The records of a range, superseded. */
export interface JournalRange {
  /** Interval records whose start is in [from, to), oldest first. */
  intervals: IntervalRecord[];
  /** Run records whose window overlaps [from, to), by window start. */
  runs: RunRecord[];
  /** Skipped records whose time is in [from, to). */
  skipped: SkippedRecord[];
  /** Files with lines that were skipped. */
  skippedLines: SkippedLines[];
  /** Day files found and read. */
  files: string[];
}

/** Reads `[fromWall, toWall)` of the journal in `dir`. A missing directory or day file is no records; other errors throw. */
export async function readJournal(dir: string, fromWall: number, toWall: number): Promise<JournalRange> {
  const intervals = new Map<string, IntervalRecord>();
  const runs = new Map<string, RunRecord>();
  const skipped: SkippedRecord[] = [];
  const skippedLines: SkippedLines[] = [];
  const files: string[] = [];
  const firstDay = Date.parse(`${journalDay(fromWall - RUN_LOOKBACK_MS)}T00:00:00Z`);
  for (let day = firstDay, n = 0; day < toWall && n < MAX_DAYS; day += 86_400_000, n++) {
    const file = join(dir, `${journalDay(day)}.jsonl`);
    const counts = { file, torn: 0, bad: 0 };
    const found = await forEachLine(file, (line, last) => {
      if (line === '') return;
      if (last) {
        counts.torn += 1;
        return;
      }
      const r = decodeRecord(line);
      if (!r) counts.bad += 1;
      else if (r.kind === 'interval') {
        if (r.start >= fromWall && r.start < toWall) intervals.set(`${r.run}\u0000${r.test}\u0000${r.start}`, r);
      } else if (r.kind === 'run') {
        if (r.start < toWall && r.end > fromWall) runs.set(r.run, r);
      } else if (r.at >= fromWall && r.at < toWall) skipped.push(r);
    });
    if (!found) continue;
    files.push(file);
    if (counts.torn + counts.bad > 0) skippedLines.push(counts);
  }
  return {
    intervals: [...intervals.values()].sort((a, b) => a.start - b.start),
    runs: [...runs.values()].sort((a, b) => a.start - b.start),
    skipped,
    skippedLines,
    files,
  };
}

/**
 * Calls `visit` with each line of `file` (without its newline); `last` is true for a final line that
 * has no newline. Returns false when the file does not exist.
 */
export async function forEachLine(file: string, visit: (line: string, last: boolean) => void): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    const decoder = new StringDecoder('utf8');
    // Up to the size at open: what copies append meanwhile is for the next read.
    const size = (await handle.stat()).size;
    const buf = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(1, size)));
    let rest = '';
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const text = rest + decoder.write(buf.subarray(0, bytesRead));
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) visit(line, false);
    }
    rest += decoder.end();
    if (rest !== '') visit(rest, true);
    return true;
  } finally {
    await handle.close();
  }
}
