import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal, type JournalRange } from '../../src/journal/reader.js';
import type { JournalReport } from '../../src/journal/report-data.js';
import { agentHome, cleanups, runCli, spawnCli, startTarget, waitFor, type AgentHome, type CliResult, type TargetServer } from '../support/cli.js';

// The journal end to end, through the real CLI (dist/cli.js) against a real HTTP target on port 0:
// what runs leave in <state_dir>/journal equals what the target counted, `canihaz report` says the
// same in each format, a SIGKILLed copy and a torn line are survived, overlapping copies and a
// skipped one are recorded, and a state dir that cannot be written is one warning with the load unchanged.

const defer = cleanups();
const KILL_AFTER_MS = 40_000;

/** A target whose `/flaky` answers 503 to every third request. */
async function target(): Promise<TargetServer & { failed: () => number }> {
  let flaky = 0;
  let failed = 0;
  const t = await startTarget((req, res) => {
    if (req.url === '/flaky' && ++flaky % 3 === 0) {
      failed++;
      res.statusCode = 503;
    }
    res.end('ok');
  });
  defer(() => t.close());
  return Object.assign(t, { failed: () => failed });
}

async function home(t: TargetServer): Promise<AgentHome & { run: (args: string[]) => Promise<CliResult>; journal: string }> {
  const h = await agentHome();
  await h.writeConfig(`home|http|600|none|url=${t.url}/home\nflaky|http|300|none|url=${t.url}/flaky\n`);
  const base = [...h.args, '--state-dir', h.dir];
  return Object.assign(h, { run: (args: string[]) => runCli(['run', ...base, ...args], { killAfterMs: KILL_AFTER_MS }), journal: join(h.dir, 'journal') });
}

const WIDE = { from: Date.now() - 3_600_000, to: Date.now() + 3_600_000 };
const read = (h: { journal: string }) => readJournal(h.journal, WIDE.from, WIDE.to + 60_000);

/** Per test: the sums of the journal's interval records. */
function sums(range: JournalRange): Record<string, { requested: number; completed: number; failed: number; aborted: number }> {
  const out: Record<string, { requested: number; completed: number; failed: number; aborted: number }> = {};
  for (const r of range.intervals) {
    const s = (out[r.test] ??= { requested: 0, completed: 0, failed: 0, aborted: 0 });
    s.requested += r.requested;
    s.completed += r.ok + r.failed;
    s.failed += r.failed;
    s.aborted += r.aborted;
  }
  return out;
}

async function report(h: AgentHome, format: string, extra: string[] = []): Promise<CliResult> {
  const r = await runCli(['report', '--settings', h.settings, '--state-dir', h.dir, '--since', '1h', '--format', format, ...extra], { killAfterMs: KILL_AFTER_MS });
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe('journal through the CLI', () => {
  it('two short runs and a stopped one: the books equal what the target counted, and report says so in each format', async () => {
    const t = await target();
    const h = await home(t);
    for (let i = 0; i < 2; i++) expect((await h.run(['--lifetime', '2'])).code).toBe(0);
    const stopped = spawnCli(['run', ...h.args, '--state-dir', h.dir, '--lifetime', '8'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => t.count('/home') >= 50, 10_000)).toBe(true);
    writeFileSync(h.stopFile, '');
    const last = await stopped.done;
    expect(last.code, last.stderr).toBe(0);
    rmSync(h.stopFile);

    const range = await read(h);
    expect(range.skippedLines).toEqual([]);
    expect(range.runs.map((r) => r.ended)).toEqual(['window end', 'window end', 'stop file']);
    const s = sums(range);
    expect(s.home!.completed).toBe(t.count('/home'));
    expect(s.flaky!.completed).toBe(t.count('/flaky'));
    expect(s.flaky!.failed).toBe(t.failed());
    // The run records' books say the same as the intervals.
    for (const test of ['home', 'flaky']) {
      const books = range.runs.map((r) => r.books[test]!);
      expect(books.reduce((n, b) => n + b.ok + b.failed, 0)).toBe(s[test]!.completed);
      expect(books.reduce((n, b) => n + b.requested, 0)).toBe(s[test]!.requested);
      expect(books.slice(0, 2).map((b) => b.requested)).toEqual(test === 'home' ? [20, 20] : [10, 10]);
    }

    const json = JSON.parse((await report(h, 'json')).stdout) as JournalReport;
    expect(Object.keys(json)).toEqual(['from', 'to', 'tests', 'runs', 'skippedMinutes']);
    expect(json.tests.map((x) => [x.test, x.ok + x.failed, x.failed, x.failures])).toEqual([
      ['flaky', t.count('/flaky'), t.failed(), t.failed() > 0 ? { status_503: t.failed() } : {}],
      ['home', t.count('/home'), 0, {}],
    ]);
    const homeRow = json.tests.find((x) => x.test === 'home')!;
    expect(Object.keys(homeRow)).toEqual(['test', 'requested', 'started', 'ok', 'failed', 'dropped', 'missed', 'aborted', 'failures', 'latency', 'perMinute', 'metrics']);
    expect(homeRow.requested).toBe(s.home!.requested);
    expect(homeRow.started).toBe(homeRow.ok + homeRow.failed + homeRow.aborted);
    expect(homeRow.latency!.p50).toBeGreaterThan(0);
    expect(homeRow.latency!.p99).toBeGreaterThanOrEqual(homeRow.latency!.p50);
    // 600/min asked; the rate is over the runs' windows, the stopped one's up to its stop (a few
    // ticks' worth of rounding in 2 s windows).
    expect(homeRow.perMinute).toBeGreaterThan(500);
    expect(homeRow.perMinute).toBeLessThan(660);
    expect(json.runs.map((r) => [r.ended, typeof r.slot, r.host.length > 0])).toEqual([
      ['window end', 'number', true],
      ['window end', 'number', true],
      ['stop file', 'number', true],
    ]);

    const csv = (await report(h, 'csv')).stdout.trim().split('\n').map((l) => l.split(','));
    expect(csv[0]).toEqual(['test', 'requested', 'started', 'ok', 'failed', 'dropped', 'missed', 'aborted', 'per_minute', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'failures', 'metrics']);
    for (const [i, x] of json.tests.entries()) {
      expect(csv[i + 1]!.slice(0, 13)).toEqual([x.test, x.requested, x.started, x.ok, x.failed, x.dropped, x.missed, x.aborted, x.perMinute, x.latency!.p50, x.latency!.p90, x.latency!.p99, x.latency!.max].map(String));
    }

    const table = (await report(h, 'table')).stdout.split('\n');
    const row = table.find((l) => l.startsWith('home '))!.trim().split(/\s+/);
    expect(row.slice(0, 8)).toEqual(['home', homeRow.requested, homeRow.started, homeRow.ok, homeRow.failed, 0, 0, homeRow.aborted].map(String));
    expect(table).toContain('runs: 3 (2 window end, 1 stop file); minutes skipped (all lock slots busy): 0');
    // Columns line up: every test row is as wide as the header.
    const header = table.find((l) => l.startsWith('test '))!;
    expect(table.filter((l) => l.startsWith('home ') || l.startsWith('flaky ')).map((l) => l.length)).toEqual([header.length, header.length]);

    const only = JSON.parse((await report(h, 'json', ['--test', 'flaky'])).stdout) as JournalReport;
    expect(only.tests.map((x) => x.test)).toEqual(['flaky']);
  }, 60_000);

  it('three overlapping copies and a fourth that finds every slot busy: no record torn, books equal the target, the skipped minute counted', async () => {
    const t = await target();
    const h = await home(t);
    const copies = [0, 1, 2].map(() => spawnCli(['run', ...h.args, '--state-dir', h.dir, '--lifetime', '4'], { killAfterMs: KILL_AFTER_MS }));
    expect(await waitFor(() => t.count('/home') >= 30, 10_000)).toBe(true);
    const fourth = await h.run(['--lifetime', '4']);
    expect(fourth.stderr).toContain('all lock slots are busy');
    for (const c of await Promise.all(copies.map((c) => c.done))) expect(c.code, c.stderr).toBe(0);
    const range = await read(h);
    expect(range.skippedLines).toEqual([]);
    expect(new Set(range.runs.map((r) => r.slot)).size).toBe(3);
    expect(range.skipped).toHaveLength(1);
    expect(sums(range).home!.completed).toBe(t.count('/home'));
    const json = JSON.parse((await report(h, 'json')).stdout) as JournalReport;
    expect(json.skippedMinutes).toBe(1);
  }, 60_000);

  it('a copy SIGKILLed mid-run leaves readable records; a torn last line is skipped and the next copy appends cleanly', async () => {
    const t = await target();
    const h = await home(t);
    const doomed = spawnCli(['run', ...h.args, '--state-dir', h.dir, '--lifetime', '25'], { killAfterMs: KILL_AFTER_MS });
    const dayFile = () => (existsSync(h.journal) ? readdirSync(h.journal).find((f) => f.endsWith('.jsonl')) : undefined);
    const intervals = () => {
      const f = dayFile();
      return f ? readFileSync(join(h.journal, f), 'utf8').split('\n').filter((l) => l.includes('"kind":"interval"')).length : 0;
    };
    expect(await waitFor(() => intervals() >= 2, 15_000)).toBe(true);
    doomed.child.kill('SIGKILL');
    await doomed.done;
    const file = join(h.journal, dayFile()!);
    appendFileSync(file, '{"v":1,"kind":"interval","run":"torn","te');
    const before = await read(h);
    expect(before.skippedLines).toEqual([{ file, torn: 1, bad: 0 }]);
    expect(before.runs.map((r) => r.ended)).toEqual([null]);
    const killed = sums(before);
    expect(killed.home!.completed).toBeGreaterThan(0);
    expect(killed.home!.completed).toBeLessThanOrEqual(t.count('/home'));

    const servedBefore = t.count('/home');
    expect((await h.run(['--lifetime', '1'])).code).toBe(0);
    const after = await read(h);
    // The next copy ended the torn line before its first record: one bad line, nothing else lost.
    expect(after.skippedLines).toEqual([{ file, torn: 0, bad: 1 }]);
    expect(after.runs.map((r) => r.ended)).toEqual([null, 'window end']);
    expect(sums(after).home!.completed - killed.home!.completed).toBe(t.count('/home') - servedBefore);
    const r = await report(h, 'json');
    expect(r.stderr).toContain('skipped 1 unreadable line');
    expect((JSON.parse(r.stdout) as JournalReport).runs.map((x) => x.ended)).toEqual(['unknown', 'window end']);
  }, 60_000);

  it('a copy stopped by SIGTERM says so: ended "signal", its books equal the target\'s count', async () => {
    const t = await target();
    const h = await home(t);
    const run = spawnCli(['run', ...h.args, '--state-dir', h.dir, '--lifetime', '8'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => t.count('/home') >= 10, 10_000)).toBe(true);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
    const range = await read(h);
    expect(range.runs.map((r) => r.ended)).toEqual(['signal']);
    const books = range.runs[0]!.books.home!;
    expect(books.ok + books.failed).toBe(t.count('/home'));
    expect(sums(range).home!.completed).toBe(t.count('/home'));
  }, 60_000);

  it('a state dir that cannot be written: one warning, and the load is what it would have been', async () => {
    const t = await target();
    const h = await home(t);
    const notADir = join(h.dir, 'state-file');
    writeFileSync(notADir, '');
    const r = await runCli(['run', ...h.args, '--state-dir', notADir, '--lifetime', '2'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('journal not written'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('error=ENOTDIR');
    expect(t.count('/home')).toBe(20);
    expect(t.count('/flaky')).toBe(10);
    expect(r.stderr).toMatch(/msg=summary test=home requested=20 started=20 ok=20 failed=0 dropped=0 missed=0 aborted=0/);
    const rep = await runCli(['report', '--settings', h.settings, '--state-dir', notADir], { killAfterMs: KILL_AFTER_MS });
    expect([rep.code, rep.stderr]).toEqual([2, expect.stringMatching(/^canihaz: journal \S+: cannot be read: ENOTDIR /)]);
  }, 60_000);
});
