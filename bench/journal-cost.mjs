// node bench/journal-cost.mjs [RATE] [TESTS] (after a build): the journal's own CPU for a minute (issue 11: ≤ 5 % of a run's CPU at 60,000/min).
// CPU the journal sink costs for one minute at RATE executions/min spread over TESTS tests:
// record() of every event (planned, execution) and the 10-second flushes to real files, on the
// system clock's wall time but driven synchronously (boundaries crossed by a fake wall clock).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournalSink } from '../dist/journal/journal-sink.js';
const RATE = Number(process.argv[2] ?? 60000), TESTS = Number(process.argv[3] ?? 1);
let wall = Date.UTC(2026, 10, 23, 12, 0, 0);
const timers = [];
const clock = { now: () => wall, wallNow: () => wall, after: (ms, fn) => { const t = { at: wall + ms, fn }; timers.push(t); return () => { t.fn = null; }; }, soon: (fn) => fn(), every() { return () => {}; }, sleepUntil: async () => {} };
const logger = { debug() {}, info() {}, notice() {}, warn: (m, f) => console.error(m, f), error() {} };
const stateDir = mkdtempSync(join(tmpdir(), 'jbench-'));
const start = wall;
const sink = createJournalSink({ stateDir, journalDays: 7, host: 'bench', slot: 0, window: { startWall: start, endWall: start + 60000 }, clock, logger, ended: () => 'window end' });
const cpu0 = process.cpuUsage();
await sink.start();
for (let t = 0; t < TESTS; t++) sink.record({ kind: 'planned', test: `t${t}`, tickWallMs: start, ticks: RATE / TESTS });
let x = 1;
for (let i = 0; i < RATE; i++) {
  wall = start + (i * 60000) / RATE;
  for (let j = timers.length - 1; j >= 0; j--) if (timers[j].at <= wall) { const t = timers.splice(j, 1)[0]; t.fn?.(); }
  x = (x * 48271) % 2147483647;
  const ok = x % 50 !== 0;
  sink.record({ kind: 'execution', test: `t${i % TESTS}`, tickWallMs: wall, ok, reason: ok ? undefined : 'timeout', latencyMs: 0.3 + (x % 5000) / 1000, lagMs: 0.05 });
}
wall = start + 60000;
for (const t of timers.splice(0)) t.fn?.();
await sink.stop(wall + 2000);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ rate: RATE, tests: TESTS, cpuMs: (cpu.user + cpu.system) / 1000, written: sink.written, lost: sink.lost }));
