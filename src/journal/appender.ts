/**
 * Appends records to `<dir>/<YYYY-MM-DD>.jsonl`. Every write(2) is on a file opened with O_APPEND and
 * carries whole lines only (several records at most, never part of one), so copies appending to one
 * file at once never interleave inside a record. Synchronous on purpose: a few KiB every 10 s costs
 * tens of µs, less than handing it to the thread pool. Never throws: a directory that is missing,
 * unwritable or full is one warning per run, and the records are counted as lost.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { journalDay } from './records.js';

/** Most bytes handed to one write: lines are grouped up to this, a longer line goes alone. */
const WRITE_BYTES = 64 * 1024;

export interface AppenderOptions {
  /** The journal directory, `<state_dir>/journal`; created (one level, not its parents) when missing. */
  dir: string;
  /** The state directory, named in the warning. */
  stateDir: string;
  logger: Logger;
}

/** Writes lines to day files; see the module comment. */
export interface Appender {
  /** Appends `lines` (each ending in a newline) to the file of the UTC day of `wallMs`. Returns whether all were written. */
  append(wallMs: number, lines: readonly string[]): boolean;
  /** Says `err` in the run's one journal warning, unless it was said already. */
  warn(err: unknown): void;
  /** Lines that could not be written. */
  readonly lost: number;
  /** Lines written. */
  readonly written: number;
}

/** Creates an appender. */
export function createAppender(options: AppenderOptions): Appender {
  const { dir, logger } = options;
  let warned = false;
  let dirReady = false;
  let lost = 0;
  let written = 0;

  const fail = (err: unknown, lines: number) => {
    lost += lines;
    if (warned) return;
    warned = true;
    const e = err as NodeJS.ErrnoException;
    logger.warn('journal not written: the tests run on without it', {
      state_dir: options.stateDir,
      error: e?.code ?? String(err),
      reason: e?.message ?? String(err),
    });
  };

  return {
    append(wallMs, lines) {
      if (lines.length === 0) return true;
      let fd: number | undefined;
      let done = 0;
      try {
        if (!dirReady) {
          try {
            mkdirSync(dir, { mode: 0o755 });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
          dirReady = true;
        }
        fd = openSync(join(dir, `${journalDay(wallMs)}.jsonl`), 'a+', 0o644);
        // A copy killed in the middle of a write may have left a line without its newline: end it,
        // so the first record here is a line of its own (the reader skips the torn one).
        const lead = endsTorn(fd) ? '\n' : '';
        for (const chunk of chunks(lines, lead)) {
          const buf = Buffer.from(chunk.text, 'utf8');
          const n = writeSync(fd, buf);
          if (n < buf.length) throw Object.assign(new Error(`short write: ${n} of ${buf.length} bytes (disk full?)`), { code: 'ESHORT' });
          done += chunk.lines;
        }
        written += done;
        return true;
      } catch (err) {
        written += done;
        fail(err, lines.length - done);
        return false;
      } finally {
        if (fd !== undefined) {
          try {
            closeSync(fd);
          } catch {
            // closing an fd we opened cannot fail in a way we could act on
          }
        }
      }
    },
    warn: (err) => fail(err, 0),
    get lost() {
      return lost;
    },
    get written() {
      return written;
    },
  };
}

/** Whether the file's last byte is not a newline. */
function endsTorn(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
}

/** Groups whole lines into write-sized texts. */
function* chunks(lines: readonly string[], lead: string): Generator<{ text: string; lines: number }> {
  let text = lead;
  let count = 0;
  for (const line of lines) {
    if (count > 0 && text.length + line.length > WRITE_BYTES) {
      yield { text, lines: count };
      text = '';
      count = 0;
    }
    text += line;
    count += 1;
  }
  if (count > 0) yield { text, lines: count };
}
