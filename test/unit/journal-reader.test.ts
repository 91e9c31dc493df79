import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal } from '../../src/journal/reader.js';
import { decodeRecord, encodeRecord, journalDay, type IntervalRecord, type RunRecord } from '../../src/journal/records.js';
import { expiredDayFiles, pruneOneDayFile } from '../../src/journal/retention.js';

// The journal's file format as a reader meets it: records of this version, a torn last line, garbage,
// superseding records, records of several runs in one interval, and retention of day files.

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function interval(over: Partial<IntervalRecord> = {}): IntervalRecord {
  return {
    v: 1,
    kind: 'interval',
    run: 'r1',
    test: 'home',
    start: T0,
    requested: 0,
    ok: 10,
    failed: 0,
    dropped: 0,
    missed: 0,
    aborted: 0,
    failures: {},
    latency: { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 },
    hist: { n: 10, sum: 10, min: 1, max: 1, b: [1 + 9 * 64 + 60, 10] },
    ...over,
  };
}

function run(over: Partial<RunRecord> = {}): RunRecord {
  return { v: 1, kind: 'run', run: 'r1', host: 'web-1', slot: 0, start: T0, end: T0 + 60_000, ended: null, at: T0, books: {}, ...over };
}

function journal(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-journal-'));
  mkdirSync(join(dir, 'journal'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'journal', name), text);
  return join(dir, 'journal');
}

describe('records', () => {
  it('encode and decode round-trip each kind, one line each', () => {
    for (const r of [interval(), run({ ended: 'stop file', books: { home: { requested: 1, started: 1, ok: 1, failed: 0, dropped: 0, missed: 0, aborted: 0 } } }), { v: 1 as const, kind: 'skipped' as const, host: 'h', at: T0 }]) {
      const line = encodeRecord(r);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.indexOf('\n')).toBe(line.length - 1);
      expect(decodeRecord(line.slice(0, -1))).toEqual(r);
    }
  });

  it.each([
    ['not JSON', '{"v":1,"kind":"interval"'],
    ['another version', JSON.stringify({ ...interval(), v: 2 })],
    ['an unknown kind', JSON.stringify({ v: 1, kind: 'party' })],
    ['a count that is not a whole number', JSON.stringify({ ...interval(), ok: 1.5 })],
    ['a missing test', JSON.stringify({ ...interval(), test: undefined })],
    ['a bad ending', JSON.stringify(run({ ended: 'exploded' as never }))],
    ['a metric without a value', JSON.stringify({ ...interval(), metrics: [{ name: 'x', kind: 'counter' }] })],
    ['an array', '[1,2]'],
  ])('refuses %s', (_, line) => {
    expect(decodeRecord(line)).toBeUndefined();
  });

  it('names day files by the UTC day', () => {
    expect(journalDay(Date.UTC(2026, 10, 23, 23, 59, 59, 999))).toBe('2026-11-23');
    expect(journalDay(Date.UTC(2026, 10, 24))).toBe('2026-11-24');
  });
});

describe('readJournal', () => {
  const day = `${journalDay(T0)}.jsonl`;

  it('skips a torn last line and garbage lines, counting them, and reads everything else', async () => {
    const good = encodeRecord(interval());
    const torn = encodeRecord(interval({ start: T0 + 10_000 })).slice(0, 40);
    const dir = journal({ [day]: `${good}not json at all\n\n${encodeRecord(interval({ start: T0 + 20_000 }))}${torn}` });
    const r = await readJournal(dir, T0, T0 + 60_000);
    expect(r.intervals.map((i) => i.start)).toEqual([T0, T0 + 20_000]);
    expect(r.skippedLines).toEqual([{ file: join(dir, day), torn: 1, bad: 1 }]);
  });

  it('a torn line followed by the newline a later copy writes first is one bad line, and the next record reads', async () => {
    const torn = encodeRecord(interval()).slice(0, 30);
    const dir = journal({ [day]: `${torn}\n${encodeRecord(interval({ start: T0 + 10_000 }))}` });
    const r = await readJournal(dir, T0, T0 + 60_000);
    expect(r.intervals.map((i) => i.start)).toEqual([T0 + 10_000]);
    expect(r.skippedLines[0]).toMatchObject({ torn: 0, bad: 1 });
  });

  it('keeps the last record per (run, test, interval): a re-sent interval supersedes, another run adds', async () => {
    const lines = [
      interval({ ok: 5 }),
      interval({ test: 'other', ok: 1 }),
      interval({ ok: 9, failed: 1, failures: { timeout: 1 } }),
      interval({ run: 'r2', ok: 3 }),
    ].map(encodeRecord);
    const dir = journal({ [day]: lines.join('') });
    const r = await readJournal(dir, T0, T0 + 60_000);
    expect(r.intervals.map((i) => [i.run, i.test, i.ok])).toEqual([
      ['r1', 'home', 9],
      ['r1', 'other', 1],
      ['r2', 'home', 3],
    ]);
  });

  it('keeps the last run record (the one with the books) and the runs overlapping the range only', async () => {
    const lines = [run(), run({ ended: 'window end' }), run({ run: 'early', start: T0 - 120_000, end: T0 - 60_000 }), run({ run: 'killed', start: T0 + 60_000, end: T0 + 120_000 })];
    const dir = journal({ [day]: lines.map(encodeRecord).join('') });
    const r = await readJournal(dir, T0, T0 + 120_000);
    expect(r.runs.map((x) => [x.run, x.ended])).toEqual([
      ['r1', 'window end'],
      ['killed', null],
    ]);
  });

  it('reads only the intervals in [from, to), across day files, and no day file is no records', async () => {
    const next = T0 + 86_400_000;
    const dir = journal({
      [day]: [interval({ start: T0 - 10_000 }), interval(), interval({ start: T0 + 50_000 })].map(encodeRecord).join(''),
      [`${journalDay(next)}.jsonl`]: encodeRecord(interval({ start: next })),
    });
    const r = await readJournal(dir, T0, next + 10_000);
    expect(r.intervals.map((i) => i.start)).toEqual([T0, T0 + 50_000, next]);
    expect(r.files).toHaveLength(2);
    expect((await readJournal(join(dir, 'nope'), T0, next)).intervals).toEqual([]);
  });

  it('reads a file larger than one chunk, with a record cut by the chunk boundary', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 6_000; i++) lines.push(encodeRecord(interval({ run: `r${i}`, test: 'x'.repeat(100) })));
    const dir = journal({ [day]: lines.join('') });
    const r = await readJournal(dir, T0, T0 + 10_000);
    expect(r.intervals).toHaveLength(6_000);
    expect(r.skippedLines).toEqual([]);
  });
});

describe('retention', () => {
  const names = ['2026-11-10.jsonl', '2026-11-15.jsonl', '2026-11-16.jsonl', '2026-11-17.jsonl', '2026-11-23.jsonl', 'notes.txt', '2026-13-99.jsonl'];
  const now = Date.UTC(2026, 10, 23, 19, 0, 0);

  it('a day file is expired once its whole day is more than journal_days × 24 h ago', () => {
    // 7 days before 2026-11-23T19:00Z is 2026-11-16T19:00Z: the 16th ends after it, the 15th before.
    expect(expiredDayFiles(names, 7, now)).toEqual(['2026-11-10.jsonl', '2026-11-15.jsonl']);
    expect(expiredDayFiles(names, 1, now)).toEqual(['2026-11-10.jsonl', '2026-11-15.jsonl', '2026-11-16.jsonl', '2026-11-17.jsonl']);
    expect(expiredDayFiles(names, 366, now)).toEqual([]);
  });

  it('deletes only the oldest expired file per call, and nothing that is not a day file', () => {
    const dir = journal(Object.fromEntries(names.map((n) => [n, ''])));
    expect(pruneOneDayFile(dir, 7, now)).toBe('2026-11-10.jsonl');
    expect(readdirSync(dir).sort()).toEqual(names.filter((n) => n !== '2026-11-10.jsonl').sort());
    expect(pruneOneDayFile(dir, 7, now)).toBe('2026-11-15.jsonl');
    expect(pruneOneDayFile(dir, 7, now)).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(['2026-11-16.jsonl', '2026-11-17.jsonl', '2026-11-23.jsonl', '2026-13-99.jsonl', 'notes.txt']);
    expect(pruneOneDayFile(join(dir, 'missing'), 7, now)).toBeUndefined();
  });
});
