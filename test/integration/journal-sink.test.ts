import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKET_NAMES, type MetricEvent } from '../../src/events.js';
import { createJournalSink, FLUSH_SLICE_RECORDS, type JournalSinkOptions } from '../../src/journal/journal-sink.js';
import { readJournal } from '../../src/journal/reader.js';
import { decodeRecord, journalDay, type IntervalRecord } from '../../src/journal/records.js';
import { createIntervalAggregator } from '../../src/metrics/intervals.js';
import { graphiteIntervalPoints } from '../../src/metrics/names.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { FakeClock } from '../support/fake-clock.js';

// The journal sink against real files in a temp dir, on the fake clock: what it writes at each
// 10-second boundary and at stop, that it re-sends an interval a late completion changed, that its
// figures are the Graphite sink's own (so a replay re-sends exactly them), that a state dir it cannot
// write is one warning and no exception, and that copies appending at once never tear a record.

const START = Date.UTC(2026, 10, 23, 12, 0, 0);

function setup(over: Partial<JournalSinkOptions> = {}) {
  const clock = new FakeClock(1_000, START);
  const stateDir = over.stateDir ?? mkdtempSync(join(tmpdir(), 'canihaz-state-'));
  const logger = capturingLogger();
  let ended: 'window end' | 'stop file' = 'window end';
  const sink = createJournalSink({
    stateDir,
    journalDays: 7,
    host: 'web-1',
    slot: 1,
    window: { startWall: START, endWall: START + 60_000 },
    clock,
    logger,
    ended: () => ended,
    run: 'run1',
    ...over,
  });
  const file = join(stateDir, 'journal', `${journalDay(START)}.jsonl`);
  const lines = () => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => decodeRecord(l)!);
  return { clock, stateDir, logger, sink, file, lines, end: (e: typeof ended) => (ended = e) };
}

const exec = (tickWallMs: number, latencyMs: number, ok = true, reason?: string, samples?: { name: string; kind: 'counter' | 'timing' | 'gauge'; value: number }[]): MetricEvent => ({
  kind: 'execution',
  test: 'home',
  tickWallMs,
  ok,
  latencyMs,
  lagMs: 0.1,
  ...(reason ? { reason } : {}),
  ...(samples ? { samples } : {}),
});

describe('journal sink', () => {
  it('writes a boundary of many tests a slice per event-loop turn, every record once, and what is left at stop', async () => {
    const { clock, sink, lines } = setup();
    await sink.start();
    const tests = 2 * FLUSH_SLICE_RECORDS + 50;
    for (let i = 0; i < tests; i++) sink.record({ ...exec(START + 1_000, 2), test: `t${i}` });
    await clock.advance(10_000);
    const intervals = () => lines().filter((r) => r.kind === 'interval').map((r) => r.test);
    // The boundary's wake wrote one slice; the loop turns before the next.
    expect(intervals()).toHaveLength(FLUSH_SLICE_RECORDS);
    for (let turns = 0; turns < 5 && intervals().length < tests; turns++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(new Set(intervals()).size).toBe(tests);
    expect(intervals()).toHaveLength(tests);
    // A boundary still being written when the run stops: stop writes the rest at once.
    for (let i = 0; i < tests; i++) sink.record({ ...exec(START + 11_000, 2), test: `t${i}` });
    await clock.advance(10_000);
    await sink.stop(clock.now() + 250);
    expect(intervals()).toHaveLength(2 * tests);
  });

  it('writes the run record at start, each ended interval at its boundary, a superseding one after a late completion, and the books at stop', async () => {
    const { clock, sink, lines, end, stateDir } = setup();
    await sink.start();
    expect(lines()).toEqual([expect.objectContaining({ kind: 'run', run: 'run1', host: 'web-1', slot: 1, start: START, end: START + 60_000, ended: null, books: {} })]);
    sink.record({ kind: 'planned', test: 'home', tickWallMs: START, ticks: 6 });
    sink.record(exec(START + 1_000, 2));
    sink.record(exec(START + 5_000, 4, false, 'status_503'));
    sink.record({ kind: 'dropped', test: 'home', tickWallMs: START + 6_000 });
    await clock.advance(10_000);
    const first = lines().filter((r): r is IntervalRecord => r.kind === 'interval');
    expect(first).toEqual([
      expect.objectContaining({ run: 'run1', test: 'home', start: START, requested: 6, ok: 1, failed: 1, dropped: 1, failures: { status_503: 1 }, latency: expect.objectContaining({ max: 4 }) }),
    ]);
    // A late completion of a tick in the first interval, and one in the second.
    sink.record(exec(START + 9_000, 8));
    sink.record({ kind: 'missed', test: 'home', tickWallMs: START + 12_000, count: 2 });
    await clock.advance(10_000);
    end('stop file');
    await sink.stop(clock.now() + 250);
    const all = lines();
    expect(all.map((r) => [r.kind, r.kind === 'interval' ? r.start - START : undefined])).toEqual([
      ['run', undefined],
      ['interval', 0],
      ['interval', 0],
      ['interval', 10_000],
      ['run', undefined],
    ]);
    const read = await readJournal(join(stateDir, 'journal'), START, START + 60_000);
    expect(read.intervals.map((r) => [r.start - START, r.ok, r.missed])).toEqual([
      [0, 2, 0],
      [10_000, 0, 2],
    ]);
    expect(read.runs).toEqual([
      expect.objectContaining({
        ended: 'stop file',
        books: { home: { requested: 6, started: 3, ok: 2, failed: 1, dropped: 1, missed: 2, aborted: 0 } },
      }),
    ]);
    expect(sink.lost).toBe(0);
  });

  it('holds the figures the Graphite sink sends for the same events: same intervals, paths and values', async () => {
    const { clock, sink, stateDir } = setup();
    const graphite = createIntervalAggregator();
    await sink.start();
    let x = 7;
    for (let i = 0; i < 3_000; i++) {
      x = (x * 48271) % 2147483647;
      const ok = x % 17 !== 0;
      const e = exec(START + (i % 60) * 1_000 + (x % 997), 0.05 + (x % 100_000) / 1_000, ok, ok ? undefined : 'timeout', [
        { name: 'items', kind: 'counter', value: x % 5 },
        { name: 'step.login', kind: 'timing', value: (x % 3_000) / 10 },
        { name: 'queue', kind: 'gauge', value: x % 11 },
      ]);
      sink.record(e);
      graphite.add(e);
    }
    await clock.advance(60_000);
    await sink.stop(clock.now() + 250);
    const read = await readJournal(join(stateDir, 'journal'), START, START + 60_000);
    const prefix = 'canihaz.web-1';
    const round = (v: number) => Math.round(v * 1000) / 1000;
    const expected = graphite.takeDirty().flatMap((s) => graphiteIntervalPoints(prefix, s).map((p) => `${p.path} ${round(p.value)} ${Math.floor(s.startWallMs / 1000)}`));
    // What a replay builds from a record: count, outcomes, latency, the cumulative bucket counters, then the samples, as names.ts orders them.
    const replayed = read.intervals.flatMap((r) => {
      const ts = Math.floor(r.start / 1000);
      const at = (name: string, v: number) => `${prefix}.${r.test}.${name} ${round(v)} ${ts}`;
      const dist = (name: string, d: NonNullable<IntervalRecord['latency']>) => (['mean', 'p50', 'p90', 'p99', 'max'] as const).map((f) => at(`${name}.${f}`, d[f]));
      const count = r.ok + r.failed;
      return [
        at('count', count),
        ...(['ok', 'failed', 'dropped', 'missed', 'aborted'] as const).map((o) => at(o, r[o])),
        ...(count > 0 && r.latency ? dist('latency', r.latency) : []),
        ...(count > 0 && r.le ? LATENCY_BUCKET_NAMES.map((name, i) => at(name, r.le![i]!)) : []),
        ...(r.metrics ?? []).flatMap((m) => (m.kind === 'timing' ? dist(m.name, m.summary) : [at(m.name, m.value)])),
      ];
    });
    expect(replayed.length).toBeGreaterThan(100);
    expect(replayed.filter((line) => line.includes('.latency.le_inf ')).length).toBe(read.intervals.filter((r) => r.ok + r.failed > 0).length);
    expect(replayed).toEqual(expected);
  });

  it('a torn last line left by a killed copy is ended with a newline before the first record, so only the torn line is lost', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'canihaz-state-'));
    mkdirSync(join(stateDir, 'journal'));
    const file = join(stateDir, 'journal', `${journalDay(START)}.jsonl`);
    writeFileSync(file, '{"v":1,"kind":"interval","run":"killed","te');
    const { sink } = setup({ stateDir });
    await sink.start();
    expect(readFileSync(file, 'utf8').split('\n')).toEqual(['{"v":1,"kind":"interval","run":"killed","te', expect.stringMatching(/^\{"v":1,"kind":"run","run":"run1",/), '']);
    const read = await readJournal(join(stateDir, 'journal'), START, START + 60_000);
    expect(read.runs.map((r) => r.run)).toEqual(['run1']);
    expect(read.skippedLines).toEqual([{ file, torn: 0, bad: 1 }]);
  });

  it('at stop, deletes the oldest day file past journal_days, and only that one', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'canihaz-state-'));
    mkdirSync(join(stateDir, 'journal'));
    const old = ['2026-10-01.jsonl', '2026-10-02.jsonl', '2026-11-16.jsonl', '2026-11-17.jsonl'];
    for (const name of old) writeFileSync(join(stateDir, 'journal', name), '');
    const { clock, sink } = setup({ stateDir, journalDays: 7 });
    await sink.start();
    await clock.advance(10_000);
    await sink.stop(clock.now() + 250);
    // 2026-11-23T12:00Z − 7 days = 2026-11-16T12:00Z: the 16th is kept, the two October files are due, one goes.
    expect(sink.pruned).toBe('2026-10-01.jsonl');
    expect(readdirSync(join(stateDir, 'journal')).sort()).toEqual(['2026-10-02.jsonl', '2026-11-16.jsonl', '2026-11-17.jsonl', `${journalDay(START)}.jsonl`]);
  });

  it.each([
    ['a state dir that does not exist', (dir: string) => join(dir, 'missing'), 'ENOENT'],
    ['a state dir that is a file', (dir: string) => (writeFileSync(join(dir, 'file'), ''), join(dir, 'file')), 'ENOTDIR'],
    ['a journal that is a file', (dir: string) => (writeFileSync(join(dir, 'journal'), ''), dir), 'ENOTDIR'],
    [
      'a full disk (the day file is /dev/full)',
      (dir: string) => {
        mkdirSync(join(dir, 'journal'));
        symlinkSync('/dev/full', join(dir, 'journal', `${journalDay(START)}.jsonl`));
        return dir;
      },
      'ENOSPC',
    ],
  ])('%s: one warning for the run, no exception, every event still taken', async (_, make, code) => {
    const stateDir = make(mkdtempSync(join(tmpdir(), 'canihaz-state-')));
    const { clock, sink, logger } = setup({ stateDir });
    await sink.start();
    for (let i = 0; i < 6; i++) {
      sink.record(exec(START + i * 10_000, 1));
      await clock.advance(10_000);
    }
    await sink.stop(clock.now() + 250);
    expect(logger.warnings).toEqual([{ msg: 'journal not written: the tests run on without it', fields: expect.objectContaining({ state_dir: stateDir, error: code }) }]);
    expect(sink.lost).toBeGreaterThanOrEqual(8);
    expect(sink.written).toBe(0);
  });

  it('a flush of 1,000 tests\' intervals blocks the event loop for little (sync appends)', async () => {
    const { clock, sink, file } = setup();
    await sink.start();
    for (let t = 0; t < 1_000; t++) for (let i = 0; i < 10; i++) sink.record({ ...exec(START + i * 900, 1 + i), test: `test${t}` });
    const before = performance.now();
    await clock.advance(10_000);
    const ms = performance.now() - before;
    const bytes = readFileSync(file).length;
    // Reported, and bounded loosely for a loaded 2-core machine.
    console.log(`journal flush of 1000 interval records: ${ms.toFixed(1)} ms, ${bytes} bytes`);
    expect(ms).toBeLessThan(500);
    await sink.stop(clock.now() + 250);
  });
});

describe('copies appending at once', () => {
  it('three processes appending records of up to 60 KB to one file never interleave: every line reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canihaz-append-'));
    const appender = new URL('../../dist/journal/appender.js', import.meta.url).href;
    const script = `
      import { createAppender } from ${JSON.stringify(appender)};
      const a = createAppender({ dir: process.argv[1], stateDir: process.argv[1], logger: { warn: (m, f) => console.error(m, JSON.stringify(f)) } });
      const id = process.argv[2];
      for (let i = 0; i < 300; i++) {
        const pad = 'x'.repeat((i * 7919) % 60000);
        a.append(${START}, [JSON.stringify({ v: 1, kind: 'skipped', host: id + ':' + i + ':' + pad, at: ${START} }) + '\\n', JSON.stringify({ v: 1, kind: 'skipped', host: id + ':' + i + ':b', at: ${START} }) + '\\n']);
      }`;
    const journalDir = join(dir, 'journal');
    const codes = await Promise.all(
      ['a', 'b', 'c'].map(
        (id) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script, journalDir, id], { stdio: ['ignore', 'inherit', 'inherit'] });
            child.on('close', resolve);
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0]);
    const read = await readJournal(journalDir, START, START + 1);
    expect(read.skippedLines).toEqual([]);
    expect(read.skipped).toHaveLength(3 * 300 * 2);
    for (const id of ['a', 'b', 'c']) expect(read.skipped.filter((s) => s.host.startsWith(`${id}:`))).toHaveLength(600);
  });
});
