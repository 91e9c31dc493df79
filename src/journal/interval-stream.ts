/**
 * The journal read as a stream, in the order it was written, for a consumer that must not hold a
 * week in memory (`canihaz replay`): the interval records whose start lies in a range and the run
 * records before them, one day file after another, a chunk at a time. Nothing is superseded here:
 * a record re-written after late completions comes after the one it replaces, so a consumer that
 * keeps the last of each (run, test, start) — as Graphite keeps the last value per path and
 * timestamp — ends with what `readJournal` gives. Torn and unreadable lines are skipped and counted,
 * as `readJournal` does.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { SkippedLines } from './reader.js';
import { decodeRecord, journalDay, type IntervalRecord, type RunRecord } from './records.js';

/** Bytes read at a time. */
const CHUNK_BYTES = 1024 * 1024;
/** Most day files one stream visits. */
const MAX_DAYS = 400;
/** A run record is filed under its window start's day: look this far before the range for one. */
const RUN_LOOKBACK_MS = 120_000;
const DAY_MS = 86_400_000;

/** One item of the stream. */
export type JournalItem =
  | { kind: 'interval'; record: IntervalRecord }
  | { kind: 'run'; record: RunRecord }
  /** A day file is done: what it held that was not a record, and whether it existed. */
  | { kind: 'file'; file: string; found: boolean; skipped: SkippedLines | undefined };

/**
 * Yields, in file order, the interval records of `dir` whose start is in `[fromWall, toWall)` and
 * every run record of the day files read (from the day of `fromWall` less two minutes); then one
 * `file` item per day file. A missing directory or day file is no records; other errors throw.
 */
export async function* streamJournal(dir: string, fromWall: number, toWall: number): AsyncGenerator<JournalItem> {
  const firstDay = Math.floor((fromWall - RUN_LOOKBACK_MS) / DAY_MS) * DAY_MS;
  for (let day = firstDay, n = 0; day < toWall && n < MAX_DAYS; day += DAY_MS, n++) {
    const file = join(dir, `${journalDay(day)}.jsonl`);
    const counts = { file, torn: 0, bad: 0 };
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      yield { kind: 'file', file, found: false, skipped: undefined };
      continue;
    }
    try {
      const decoder = new StringDecoder('utf8');
      // Up to the size at open: what copies append meanwhile is for the next read.
      const size = (await handle.stat()).size;
      const buf = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(1, size)));
      let rest = '';
      const items: JournalItem[] = [];
      const take = (line: string) => {
        if (line === '') return;
        const r = decodeRecord(line);
        if (!r) counts.bad += 1;
        else if (r.kind === 'interval') {
          if (r.start >= fromWall && r.start < toWall) items.push({ kind: 'interval', record: r });
        } else if (r.kind === 'run') items.push({ kind: 'run', record: r });
      };
      for (let pos = 0; pos < size; ) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const lines = (rest + decoder.write(buf.subarray(0, bytesRead))).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) take(line);
        yield* items.splice(0);
      }
      // A last line without its newline: a copy killed mid-write, or one writing right now.
      if (rest + decoder.end() !== '') counts.torn += 1;
    } finally {
      await handle.close();
    }
    yield { kind: 'file', file, found: true, skipped: counts.torn + counts.bad > 0 ? counts : undefined };
  }
}
