// node bench/replay-gen.mjs (in an empty directory with state/journal/ made): a synthetic week (10 tests, every 10 s, 7 day files) for the replay figures in the README.
import { openSync, writeSync, closeSync } from 'node:fs';
const TESTS = 10, DAYS = 7;
const day0 = Date.UTC(2026, 10, 16);
for (let d = 0; d < DAYS; d++) {
  const start = day0 + d * 86_400_000;
  const fd = openSync(`state/journal/${new Date(start).toISOString().slice(0, 10)}.jsonl`, 'w');
  const runs = [];
  for (let m = 0; m < 1440; m++) runs.push(JSON.stringify({ v: 1, kind: 'run', run: `r${d}-${m}`, host: 'web-1', slot: 0, start: start + m * 60_000, end: start + (m + 1) * 60_000, ended: 'window end', at: start + (m + 1) * 60_000, books: {} }));
  writeSync(fd, runs.join('\n') + '\n');
  for (let i = 0; i < 8640; i++) {
    let text = '';
    for (let t = 0; t < TESTS; t++) {
      text += JSON.stringify({ v: 1, kind: 'interval', run: `r${d}-${Math.floor(i / 6)}`, test: `test${t}`, start: start + i * 10_000, requested: 100, ok: 98, failed: 2, dropped: 0, missed: 0, aborted: 0, failures: { timeout: 2 }, latency: { mean: 12.345, p50: 11.5, p90: 20.25, p99: 31.5, max: 40.125 }, hist: { n: 100, sum: 1234.5, min: 5.1, max: 40.125, b: [900, 3, 5, 8, 12, 20, 18, 12, 9, 6, 4, 2, 1] } }) + '\n';
    }
    writeSync(fd, text);
  }
  closeSync(fd);
}
