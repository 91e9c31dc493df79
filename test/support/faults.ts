/**
 * What every fault-injection test asserts: the run's books balance, and the copy ended in time.
 *
 * - `summaries(stderr)` reads the end-of-run `summary` lines (logfmt or JSON) into per-test books.
 * - `expectBooksBalance(book)` asserts `requested = started + dropped + missed` and
 *   `started = ok + failed + aborted`.
 * - `expectEndedWithin(result, ms, what)` is the watchdog assertion: the process exited by itself
 *   (not killed by the harness) within `ms` of being spawned or of the stop it was given.
 */
import { expect } from 'vitest';
import { TEST_COUNTS, type TestCounts } from '../../src/events.js';
import type { CliResult } from './cli.js';

/** One test's end-of-run figures, as the summary line gives them. */
export interface Book extends TestCounts {
  test: string;
}

const BOOK_KEYS = TEST_COUNTS;

/** Parses one logfmt line into its fields (quoted values unquoted). */
export function parseLogfmt(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (const m of line.matchAll(re)) {
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return out;
}

/** Every `summary` line in a run's stderr, as books, in order. */
export function summaries(stderr: string): Book[] {
  const books: Book[] = [];
  for (const line of stderr.split('\n')) {
    let fields: Record<string, unknown>;
    if (line.startsWith('{')) {
      try {
        fields = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
    } else if (line.includes('msg=summary')) {
      fields = parseLogfmt(line);
    } else {
      continue;
    }
    if (fields.msg !== 'summary') continue;
    const book = { test: String(fields.test) } as Book;
    for (const k of BOOK_KEYS) book[k] = Number(fields[k]);
    books.push(book);
  }
  return books;
}

/** The summary book of one test; fails the test when there is none. */
export function bookOf(stderr: string, test: string): Book {
  const book = summaries(stderr).find((b) => b.test === test);
  expect(book, `no summary line for test "${test}" in:\n${stderr}`).toBeDefined();
  return book!;
}

/** Asserts both identities of the books. */
export function expectBooksBalance(book: Book): void {
  for (const k of BOOK_KEYS) expect(Number.isInteger(book[k]), `${book.test}.${k} = ${book[k]}`).toBe(true);
  expect(book.started + book.dropped + book.missed, `requested = started + dropped + missed for ${JSON.stringify(book)}`).toBe(book.requested);
  expect(book.ok + book.failed + book.aborted, `started = ok + failed + aborted for ${JSON.stringify(book)}`).toBe(book.started);
}

/**
 * The watchdog assertion: the copy exited by itself (no signal from the harness's killer) within
 * `withinMs` of a reference instant, given as ms after its spawn (default 0: the spawn itself; pass
 * `stopAt - cli.startedAt` to measure from a stop).
 */
export function expectEndedWithin(result: CliResult, withinMs: number, what: string, referenceAfterSpawnMs = 0): void {
  expect(result.signal, `${what}: the process was killed (${result.signal}), it did not end by itself\n${result.stderr.slice(-2000)}`).toBeNull();
  const elapsed = result.durationMs - referenceAfterSpawnMs;
  expect(elapsed, `${what}: ended ${Math.round(elapsed)} ms after the reference, allowed ${withinMs} ms`).toBeLessThanOrEqual(withinMs);
}
