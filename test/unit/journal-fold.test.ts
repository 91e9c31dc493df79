import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { foldJournal } from '../../src/journal/fold-reader.js';
import { createJournalIntervals, JOURNAL_RETAIN_MS } from '../../src/journal/intervals.js';
import { readJournal } from '../../src/journal/reader.js';
import { encodeRecord, journalDay, type IntervalRecord, type JournalRecord, type RunRecord } from '../../src/journal/records.js';
import { summariseJournal } from '../../src/journal/report-data.js';
import { journalSeries } from '../../src/journal/series.js';
import { referenceSeries, referenceSummary } from '../support/journal-reference.js';

// The streaming fold (fold-reader.ts) against the in-memory reference (readJournal + the report and
// series as they were): equal, key order included, on journals written by the real interval code
// with late completions (superseding records up to JOURNAL_RETAIN_MS later), runs across midnight,
// killed runs, torn and bad lines; and holding only a few minutes of records.

const MIDNIGHT = Date.UTC(2026, 10, 23);

function mulberry(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs as the sink writes them (intervals to their start day's file, flushed every 10 s, in wall order across runs). */
function writeJournal(dir: string, seed: number, opts: { runs: number; from: number; tests: string[]; lateMs: number; gapMs?: number }): void {
  const rand = mulberry(seed);
  type Ev = { at: number; order: number; act: () => JournalRecord[] };
  const queue: Ev[] = [];
  let order = 0;
  const push = (at: number, act: () => JournalRecord[]) => queue.push({ at, order: order++, act });
  for (let k = 0; k < opts.runs; k++) {
    const run = `run${k}`;
    const start = opts.from + k * (opts.gapMs ?? 0) + Math.floor(rand() * (opts.gapMs ? 2 : 40)) * 30_000;
    const end = start + 60_000 * (1 + Math.floor(rand() * 4));
    const killed = rand() < 0.15;
    const intervals = createJournalIntervals(run);
    const base: RunRecord = { v: 1, kind: 'run', run, host: 'h', slot: k % 3, start, end, ended: null, at: start, books: {} };
    push(start, () => [base]);
    for (let t = start; t < end; t += 500 + Math.floor(rand() * 1500)) {
      const test = opts.tests[Math.floor(rand() * opts.tests.length)]!;
      push(t, () => (intervals.add({ kind: 'planned', test, tickWallMs: t, ticks: 1 }), []));
      const latency = rand() < 0.05 ? opts.lateMs * rand() : 1 + rand() * 80;
      const ok = rand() > 0.1;
      const samples = rand() < 0.3 ? [{ name: 'items', kind: 'counter' as const, value: 1 + Math.floor(rand() * 5) }, { name: 'depth', kind: 'gauge' as const, value: Math.floor(rand() * 100) }, { name: 'db', kind: 'timing' as const, value: rand() * 20 }] : undefined;
      const ev: MetricEvent = { kind: 'execution', test, tickWallMs: t, ok, latencyMs: latency, lagMs: 0, ...(ok ? {} : { reason: rand() < 0.5 ? 'timeout' : 'status_503' }), ...(samples ? { samples } : {}) };
      push(Math.min(t + latency, end + 1_000), () => (intervals.add(ev), []));
    }
    for (let b = Math.floor(start / 10_000) * 10_000 + 10_000; b <= end; b += 10_000) {
      const boundary = b;
      if (!(killed && boundary === end)) push(boundary + 1, () => intervals.takeDirty(boundary));
    }
    if (!killed) push(end + 1_500, () => [...intervals.takeDirty(), { ...base, ended: rand() < 0.8 ? 'window end' : 'stop file', at: end + 1_500 }]);
    if (rand() < 0.2) push(start + 5_000, () => [{ v: 1, kind: 'skipped', host: 'h', at: start + 5_000 }]);
  }
  queue.sort((a, b) => a.at - b.at || a.order - b.order);
  for (const ev of queue) {
    for (const r of ev.act()) {
      const day = r.kind === 'interval' ? r.start : r.kind === 'run' ? r.start : r.at;
      appendFileSync(join(dir, `${journalDay(day)}.jsonl`), encodeRecord(r));
    }
  }
}

async function compare(dir: string, from: number, to: number, tests?: string[]) {
  const range = await readJournal(dir, from, to);
  const folded = await foldJournal(dir, from, to, { tests, series: true });
  expect(JSON.stringify(folded.report)).toBe(JSON.stringify(referenceSummary(range, { from, to, tests })));
  expect(JSON.stringify(folded.series)).toBe(JSON.stringify(referenceSeries(range, { from, to, tests })));
  expect(JSON.stringify(summariseJournal(range, { from, to, tests }))).toBe(JSON.stringify(referenceSummary(range, { from, to, tests })));
  expect(JSON.stringify(journalSeries(range, { from, to, tests }))).toBe(JSON.stringify(referenceSeries(range, { from, to, tests })));
  expect(folded.files).toEqual(range.files);
  expect(folded.skippedLines).toEqual(range.skippedLines);
  return { range, folded };
}

function tempJournal(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'canihaz-fold-')), 'journal');
  mkdirSync(dir);
  return dir;
}

describe('foldJournal', () => {
  it.each([1, 2, 3, 4, 5])('equals the in-memory report and series on a generated journal across midnight (seed %i)', async (seed) => {
    const dir = tempJournal();
    writeJournal(dir, seed, { runs: 40, from: MIDNIGHT - 10 * 60_000, tests: ['home', 'search', 'cart'], lateMs: 150_000 });
    // A torn last line and garbage in the first day's file.
    appendFileSync(join(dir, `${journalDay(MIDNIGHT - 1)}.jsonl`), 'not json\n{"v":1,"kind":"interval","run"');
    const { range, folded } = await compare(dir, MIDNIGHT - 3_600_000, MIDNIGHT + 3_600_000);
    expect(range.skippedLines.length).toBe(1);
    expect(folded.report.tests.length).toBeGreaterThan(0);
    await compare(dir, MIDNIGHT - 5 * 60_000, MIDNIGHT + 7 * 60_000, ['search']);
    await compare(dir, MIDNIGHT, MIDNIGHT + 24 * 3_600_000);
  });

  it('a record superseded JOURNAL_RETAIN_MS later, after records of the next day, counts once', async () => {
    const dir = tempJournal();
    const rec = (start: number, ok: number, run = 'a'): IntervalRecord => ({
      v: 1, kind: 'interval', run, test: 't', start, requested: ok, ok, failed: 0, dropped: 0, missed: 0, aborted: 0, failures: {},
      latency: null, hist: { n: ok, sum: ok, min: 1, max: 1, b: [577, ok] },
    });
    const before = MIDNIGHT - 10_000;
    const lines = (rs: IntervalRecord[]) => rs.map(encodeRecord).join('');
    const today: IntervalRecord[] = [];
    const next: IntervalRecord[] = [];
    for (let s = MIDNIGHT - 60_000; s < MIDNIGHT + JOURNAL_RETAIN_MS; s += 10_000) (s < MIDNIGHT ? today : next).push(rec(s, 1));
    today.push(rec(before, 5)); // the re-send, written JOURNAL_RETAIN_MS after the interval, to its start day's file
    writeFileSync(join(dir, `${journalDay(before)}.jsonl`), lines(today));
    writeFileSync(join(dir, `${journalDay(MIDNIGHT)}.jsonl`), lines(next));
    const { folded } = await compare(dir, MIDNIGHT - 3_600_000, MIDNIGHT + 3_600_000);
    expect(folded.report.tests[0]!.ok).toBe(5 + 5 + next.length);
  });

  it('holds a few minutes of records, not the range', async () => {
    const dir = tempJournal();
    writeJournal(dir, 9, { runs: 300, from: MIDNIGHT + 3_600_000, tests: ['a', 'b', 'c', 'd'], lateMs: 100_000, gapMs: 60_000 });
    const { range, folded } = await compare(dir, MIDNIGHT, MIDNIGHT + 86_400_000);
    expect(range.intervals.length).toBeGreaterThan(1_000);
    expect(folded.heldMost).toBeLessThan(range.intervals.length / 20);
  });
});
