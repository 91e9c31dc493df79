/**
 * For the dashboard's tests: a journal left by real `canihaz run`s against a real target, a
 * `canihaz dashboard` process on a free loopback port, and a demo journal — an hour of two tests'
 * records written with the journal's own encoder, for a picture with a shape (a burst of timeouts, a
 * latency spike) that a few seconds of real runs cannot have.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DashboardReport } from '../../src/dashboard/report-source.js';
import { JournalHistogram } from '../../src/journal/histogram.js';
import { distributionOf } from '../../src/journal/intervals.js';
import type { RunReport } from '../../src/journal/report-data.js';
import { encodeRecord, journalDay, type JournalRecord } from '../../src/journal/records.js';
import { agentHome, runCli, spawnCli, startTarget, waitFor, type AgentHome, type CliProcess, type TargetServer } from './cli.js';

const KILL_AFTER_MS = 60_000;

/** The bodies of the API. */
export type ApiReport = DashboardReport & { runsTotal?: number };
export interface ApiRuns {
  from: string;
  to: string;
  total: number;
  runs: RunReport[];
}
export interface ApiError {
  error: string;
  problems: string[];
}

/** A running `canihaz dashboard`. */
export interface Dashboard {
  proc: CliProcess;
  /** `http://127.0.0.1:PORT`, as it logged. */
  base: string;
  /** SIGTERM, and how it ended. */
  stop(): Promise<{ code: number | null; ms: number; stderr: string }>;
}

/** Starts `canihaz dashboard --listen 127.0.0.1:0` over `stateDir` and reads the address it logged. */
export async function startDashboard(h: AgentHome, stateDir: string): Promise<Dashboard> {
  const proc = spawnCli(['dashboard', '--settings', h.settings, '--state-dir', stateDir, '--listen', '127.0.0.1:0'], { killAfterMs: KILL_AFTER_MS });
  let base = '';
  const up = await waitFor(() => {
    const m = /msg="dashboard listening" url=(http:\/\/127\.0\.0\.1:\d+)\//.exec(proc.stderr);
    if (m) base = m[1]!;
    return m !== null || proc.child.exitCode !== null;
  }, 15_000);
  expect(up && base !== '', proc.stderr).toBe(true);
  return {
    proc,
    base,
    async stop() {
      const t0 = performance.now();
      proc.child.kill('SIGTERM');
      const r = await proc.done;
      return { code: r.code, ms: performance.now() - t0, stderr: r.stderr };
    },
  };
}

/** A journal left by two real runs (`--lifetime 2`) of `home` (600/min) and `flaky` (300/min, every third answer 503). */
export interface RealJournal {
  target: TargetServer;
  home: AgentHome;
  /** 503s the target answered. */
  failedAtTarget(): number;
}

export async function realJournal(): Promise<RealJournal> {
  let flaky = 0;
  let failed = 0;
  const target = await startTarget((req, res) => {
    if (req.url === '/flaky' && ++flaky % 3 === 0) {
      failed++;
      res.statusCode = 503;
    }
    res.end('ok');
  });
  const home = await agentHome();
  await home.writeConfig(`home|http|600|none|url=${target.url}/home\nflaky|http|300|none|url=${target.url}/flaky\n`);
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['run', ...home.args, '--state-dir', home.dir, '--lifetime', '2'], { killAfterMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(0);
  }
  return { target, home, failedAtTarget: () => failed };
}

/** A deterministic generator in [0, 1). */
function prng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 48271) % 2147483647) / 2147483647;
}

/**
 * Writes most of an hour of records (58 minutes, up to the last whole minute before `nowMs`) into `<stateDir>/journal`:
 * `search` at 600/min (about 25 ms, 20 % timeouts for five minutes, a few 503s) and `checkout` at
 * 120/min (about 150 ms, up to 900 ms for five minutes), one run a minute on host web-1. Returns each
 * test's ok and failed totals.
 */
export function writeDemoJournal(stateDir: string, nowMs: number): Record<string, { ok: number; failed: number }> {
  const random = prng(42);
  // Whole minutes well inside the page's last hour, asked for a few seconds after `nowMs`: 58 of them.
  const end = Math.floor(nowMs / 60_000) * 60_000;
  const start = Math.floor((nowMs - 3_600_000) / 60_000) * 60_000 + 120_000;
  const byDay = new Map<string, string[]>();
  const put = (r: JournalRecord, at: number) => {
    const day = journalDay(at);
    const lines = byDay.get(day) ?? [];
    lines.push(encodeRecord(r));
    byDay.set(day, lines);
  };
  const totals: Record<string, { ok: number; failed: number }> = { search: { ok: 0, failed: 0 }, checkout: { ok: 0, failed: 0 } };
  for (let minute = start; minute < end; minute += 60_000) {
    const m = (minute - start) / 60_000;
    const run = `demo-${m}`;
    const books: Record<string, { requested: number; started: number; ok: number; failed: number; dropped: number; missed: number; aborted: number }> = {};
    for (let at = minute; at < minute + 60_000; at += 10_000) {
      for (const [test, n, base] of [['search', 100, 25], ['checkout', 20, m >= 20 && m < 25 ? 600 : 150]] as const) {
        const hist = new JournalHistogram();
        const failures: Record<string, number> = {};
        let failed = 0;
        for (let i = 0; i < n; i++) {
          const timeout = test === 'search' && m >= 35 && m < 40 && random() < 0.2;
          const reason = timeout ? 'timeout' : random() < 0.004 ? 'status_503' : undefined;
          hist.record(timeout ? 2000 : base * (0.6 + random() * random() * 2.5));
          if (reason) {
            failures[reason] = (failures[reason] ?? 0) + 1;
            failed += 1;
          }
        }
        totals[test]!.ok += n - failed;
        totals[test]!.failed += failed;
        const b = (books[test] ??= { requested: 0, started: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0 });
        b.requested += n;
        b.started += n;
        b.ok += n - failed;
        b.failed += failed;
        put({ v: 1, kind: 'interval', run, test, start: at, requested: n, ok: n - failed, failed, dropped: 0, missed: 0, aborted: 0, failures, latency: distributionOf(hist), hist: hist.encode() }, at);
      }
    }
    put({ v: 1, kind: 'run', run, host: 'web-1', slot: m % 3, start: minute, end: minute + 60_000, ended: 'window end', at: minute + 60_100, books }, minute);
  }
  mkdirSync(join(stateDir, 'journal'), { recursive: true });
  for (const [day, lines] of byDay) writeFileSync(join(stateDir, 'journal', `${day}.jsonl`), lines.join(''));
  return totals;
}
