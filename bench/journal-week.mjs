// node bench/journal-week.mjs STATE_DIR [TESTS=50] [DAYS=7] [RATE=600] [END=now, ISO or epoch ms] (after a build):
// writes a deterministic journal of a busy host under STATE_DIR/journal: one run (cron copy) per
// minute over DAYS days ending at END's minute, TESTS tests at RATE executions/min each, records
// encoded by the journal's own encodeRecord. Each minute's run writes its run record, then at every
// 10-s flush one interval record per test (the histograms from a fixed pool of realistic intervals:
// 2 % failed, latency 5–60 ms with a tail), 1 % of them re-sent at the next flush with one late
// completion more (superseding), and its end record with the books; every 500th run is killed (no
// end record, the last flush lost).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cumulativeBuckets, latencyBucketOf, LATENCY_BOUNDS_MS } from '../dist/events.js';
import { JournalHistogram } from '../dist/journal/histogram.js';
import { distributionOf } from '../dist/journal/intervals.js';
import { encodeRecord, journalDay } from '../dist/journal/records.js';

const [stateDir, testsArg = '50', daysArg = '7', rateArg = '600', endArg] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: node bench/journal-week.mjs STATE_DIR [TESTS] [DAYS] [RATE] [END]');
const TESTS = Number(testsArg), DAYS = Number(daysArg), PER_INTERVAL = Math.max(1, Math.round(Number(rateArg) / 6));
const endMs = endArg === undefined ? Date.now() : /^\d+$/.test(endArg) ? Number(endArg) : Date.parse(endArg);
const END = Math.floor(endMs / 60_000) * 60_000, START = END - DAYS * 86_400_000;
const dir = join(stateDir, 'journal');
mkdirSync(dir, { recursive: true });

let seed = 12345;
const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);

/** A pool of interval payloads: counts, failures, latency, hist, le. */
function payload(n) {
  const h = new JournalHistogram();
  const buckets = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const ms = 5 + 55 * rand() ** 3 + (rand() < 0.01 ? 200 * rand() : 0);
    h.record(ms);
    buckets[latencyBucketOf(ms)] += 1;
    if (rand() < 0.02) failed += 1;
  }
  return { requested: n, ok: n - failed, failed, dropped: 0, missed: 0, aborted: 0, failures: failed ? { timeout: failed } : {}, latency: distributionOf(h), hist: h.encode(), le: cumulativeBuckets(buckets) };
}
const pool = Array.from({ length: 64 }, () => payload(PER_INTERVAL));
const late = Array.from({ length: 64 }, () => payload(PER_INTERVAL + 1));
const tests = Array.from({ length: TESTS }, (_, i) => `test${i}`);

const fds = new Map();
const pending = new Map();
let bytes = 0;
function write(wallMs, line) {
  const day = journalDay(wallMs);
  let p = pending.get(day);
  if (p === undefined) {
    if (!fds.has(day)) fds.set(day, openSync(join(dir, `${day}.jsonl`), 'w'));
    p = '';
  }
  p += line;
  if (p.length > 1 << 20) {
    bytes += writeSync(fds.get(day), p);
    p = '';
  }
  pending.set(day, p);
}

for (let m = START, k = 0; m < END; m += 60_000, k++) {
  const run = `r${k.toString(36).padStart(7, '0')}`;
  const killed = k % 500 === 499;
  const base = { v: 1, kind: 'run', run, host: 'bench', slot: k % 3, start: m, end: m + 60_000 };
  write(m, encodeRecord({ ...base, ended: null, at: m, books: {} }));
  const books = Object.fromEntries(tests.map((t) => [t, { requested: 0, started: 0, ok: 0, failed: 0, dropped: 0, missed: 0, aborted: 0 }]));
  let resend = [];
  for (let b = m + 10_000; b <= m + 60_000; b += 10_000) {
    if (killed && b === m + 60_000) break;
    const lines = [];
    for (const [t, start] of resend) lines.push({ ...late[(start / 10_000 + t.length) % 64], t, start });
    resend = [];
    for (const t of tests) {
      const i = Math.floor(rand() * 64);
      lines.push({ ...pool[i], t, start: b - 10_000 });
      if (rand() < 0.01) resend.push([t, b - 10_000]);
    }
    for (const { t, start, ...p } of lines.sort((x, y) => x.start - y.start)) write(start, encodeRecord({ v: 1, kind: 'interval', run, test: t, start, ...p }));
  }
  if (killed) continue;
  write(m, encodeRecord({ ...base, ended: 'window end', at: m + 60_050, books }));
}
for (const [day, p] of pending) if (p) bytes += writeSync(fds.get(day), p);
for (const fd of fds.values()) closeSync(fd);
console.log(JSON.stringify({ dir, tests: TESTS, days: DAYS, from: new Date(START).toISOString(), to: new Date(END).toISOString(), files: fds.size, mb: Math.round(bytes / 1e5) / 10 }));
