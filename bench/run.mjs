#!/usr/bin/env node
// canihaz benchmark: `npm run bench` (builds first). Everything runs against servers this script
// starts on 127.0.0.1; every load loop is bounded by the run's --lifetime. Prints a Markdown table
// for the README and exits non-zero when a target is missed.
//
//   node bench/run.mjs [--quick] [--full] [CASE]   --quick: shorter runs, for a smoke test
//                                                  --full: the cost case's minutes measured whole
//                                                  CASE: run only that case (`scenario`, `peers`,
//                                                  `cold-start`, `cost`)
// The peers (bench/peers.mjs) need `bash bench/peers.sh` once; a missing one is shown as such.
// Writes bench/results/latest.json (partial.json for --quick or one case): the machine, every
// figure, the peers' raw figures.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { peersBench } from './peers.mjs';
import { coldStart } from './cold-start.mjs';
import { costBench } from './cost.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const quick = process.argv.includes('--quick');
const results = [];
let failed = 0;

/** One figure of the table; `more.peer` is the best peer's figure for the same measure. */
function record(what, value, target, ok, more = {}) {
  results.push({ what, value, target, ok, ...(more.peer ? { peer: more.peer } : {}) });
  if (!ok) failed++;
  console.error(`${ok ? 'ok  ' : 'MISS'} ${what}: ${value}${target ? ` (target ${target})` : ''}${more.peer ? ` [best peer: ${more.peer}]` : ''}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (values, p) => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : String(n));

function home() {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-bench-'));
  writeFileSync(join(dir, 'canihaz.conf'), '');
  return {
    dir,
    config: join(dir, 'tests.conf'),
    stop: join(dir, 'stop'),
    args: ['--config', join(dir, 'tests.conf'), '--settings', join(dir, 'canihaz.conf'), '--stop-file', join(dir, 'stop'), '--lock-dir', join(dir, 'lock')],
  };
}

async function target(answer = true) {
  const hits = [];
  const byPath = new Map();
  const server = http.createServer((req, res) => {
    const now = performance.now();
    hits.push(now);
    if (!byPath.has(req.url)) byPath.set(req.url, now);
    if (answer) res.end('ok');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, hits, firstHit: (path) => byPath.get(path), close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) };
}

async function statsd() {
  const timers = new Map();
  const counters = new Map();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (buf) => {
    for (const line of buf.toString().split('\n')) {
      const m = /^([^:]+):([^|]+)\|(c|ms)/.exec(line);
      if (!m) continue;
      const [, name, value, type] = m;
      if (type === 'ms') (timers.get(name) ?? timers.set(name, []).get(name)).push(Number(value));
      else counters.set(name, (counters.get(name) ?? 0) + Number(value));
    }
  });
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, timers, counters, close: () => new Promise((r) => socket.close(r)) };
}

/** Spawns the CLI and samples its CPU time and peak RSS from /proc while it runs. */
function spawnCli(args) {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let cpuTicks = 0;
  let peakRssKb = 0;
  const sample = () => {
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpuTicks = Number(stat[11]) + Number(stat[12]);
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakRssKb = Math.max(peakRssKb, Number(hwm[1]));
    } catch {
      /* exited */
    }
  };
  const sampler = setInterval(sample, 100);
  const done = new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(sampler);
      resolve({ code, stderr, wallMs: performance.now() - started, cpuSeconds: cpuTicks / 100, peakRssMb: peakRssKb / 1024 });
    }),
  );
  return { child, started, done };
}

async function pacing(name, tests, perTest, lifetime, { tolerance = tests, rssTargetMb = 200 } = {}) {
  const t = await target();
  const sd = await statsd();
  const h = home();
  const lines = Array.from({ length: tests }, (_, i) => `t${i}|http|${perTest}|statsd://127.0.0.1:${sd.port}|url=${t.url}/t${i}|concurrency=200`);
  writeFileSync(h.config, lines.join('\n') + '\n');
  const run = await spawnCli(['run', ...h.args, '--lifetime', String(lifetime)]).done;
  await sleep(500);
  const expected = Math.round((tests * perTest * lifetime) / 60);
  const lags = [...sd.timers].filter(([n]) => n.endsWith('.lag')).flatMap(([, v]) => v);
  const lat = [...sd.timers].filter(([n]) => n.endsWith('.latency')).flatMap(([, v]) => v);
  const oks = [...sd.counters].filter(([n]) => n.endsWith('.ok')).reduce((a, [, v]) => a + v, 0);
  const rate = (tests * perTest) / 60;
  record(`${name}: requests at the server / expected`, `${t.hits.length} / ${expected}`, tolerance ? `±${tolerance}` : 'exact', Math.abs(t.hits.length - expected) <= tolerance && run.code === 0);
  record(`${name}: executions reported to StatsD`, String(oks), String(t.hits.length), oks === t.hits.length);
  record(`${name}: generator lag p50 / p99 / max (ms)`, `${fmt(pct(lags, 50), 2)} / ${fmt(pct(lags, 99), 2)} / ${fmt(Math.max(...lags), 1)}`, 'p99 < 10', pct(lags, 99) < 10);
  record(`${name}: latency p50 / p99 (ms, local server)`, `${fmt(pct(lat, 50), 2)} / ${fmt(pct(lat, 99), 2)}`, '', true);
  record(`${name}: agent CPU per 1000 executions (s)`, fmt((run.cpuSeconds / t.hits.length) * 1000, 3), '', true);
  record(`${name}: agent CPU at ${rate}/s (% of one core)`, fmt((run.cpuSeconds / lifetime) * 100, 0), '', true);
  record(`${name}: agent CPU for the run (s)`, fmt(run.cpuSeconds, 2), '', true);
  record(`${name}: agent peak RSS (MB)`, fmt(run.peakRssMb, 0), `< ${rssTargetMb}`, run.peakRssMb < rssTargetMb);
  await t.close();
  await sd.close();
  rmSync(h.dir, { recursive: true, force: true });
}

async function stopReaction(trials) {
  const t = await target(false);
  const times = [];
  for (let i = 0; i < trials; i++) {
    const h = home();
    writeFileSync(h.config, `h|http|600|none|url=${t.url}/|timeout=60s\n`);
    const run = spawnCli(['run', ...h.args, '--lifetime', '30']);
    const before = t.hits.length;
    while (t.hits.length < before + 3) await sleep(10);
    const created = performance.now();
    writeFileSync(h.stop, '');
    await run.done;
    times.push(performance.now() - created);
    rmSync(h.dir, { recursive: true, force: true });
  }
  await t.close();
  record(`stop file → process exited (ms, median / max of ${trials})`, `${fmt(pct(times, 50), 0)} / ${fmt(Math.max(...times), 0)}`, '< 500', Math.max(...times) < 500);
}

async function configReaction(trials) {
  const t = await target();
  const h = home();
  const run = spawnCli(['run', ...h.args, '--lifetime', String(2 + trials)]);
  await sleep(1_000);
  const times = [];
  for (let i = 0; i < trials; i++) {
    const path = `/c${i}`;
    const written = performance.now();
    writeFileSync(h.config, `c${i}|http|60000|none|url=${t.url}${path}\n`);
    while (t.firstHit(path) === undefined && performance.now() - written < 2_000) await sleep(1);
    times.push((t.firstHit(path) ?? Infinity) - written);
    await sleep(700);
  }
  await run.done;
  await t.close();
  rmSync(h.dir, { recursive: true, force: true });
  record(`config change → first request of the new test (ms, median / max of ${trials})`, `${fmt(pct(times, 50), 0)} / ${fmt(Math.max(...times), 0)}`, '< 250', Math.max(...times) < 250);
}

async function simultaneous(n) {
  const t = await target();
  const h = home();
  writeFileSync(h.config, `s|http|60|none|url=${t.url}/\n`);
  const runs = await Promise.all(Array.from({ length: n }, () => spawnCli(['run', ...h.args, '--lifetime', '5']).done));
  const served = runs.filter((r) => r.stderr.includes('msg=summary')).length;
  const skipped = runs.filter((r) => r.stderr.includes('all lock slots are busy')).length;
  await t.close();
  rmSync(h.dir, { recursive: true, force: true });
  record(`copies serving under ${n} simultaneous invocations`, `${served} (skipped ${skipped})`, '3', served === 3 && skipped === n - 3);
}

async function killedSlot() {
  const t = await target();
  const h = home();
  writeFileSync(h.config, `k|http|60|none|url=${t.url}/\n`);
  const holders = [0, 1, 2].map(() => spawnCli(['run', ...h.args, '--lifetime', '60']));
  await sleep(1_500);
  holders[0].child.kill('SIGKILL');
  const killed = performance.now();
  let reusedAfter = NaN;
  while (performance.now() - killed < 25_000) {
    const r = await spawnCli(['run', ...h.args, '--lifetime', '1']).done;
    if (r.stderr.includes('msg=summary')) {
      reusedAfter = (performance.now() - killed) / 1000;
      break;
    }
    await sleep(250);
  }
  for (const holder of holders.slice(1)) holder.child.kill('SIGTERM');
  await Promise.all(holders.map((x) => x.done));
  await t.close();
  rmSync(h.dir, { recursive: true, force: true });
  record('SIGKILLed copy → its slot served again (s)', fmt(reusedAfter, 1), '< 20', reusedAfter < 20);
}

async function startup() {
  const times = [];
  for (let i = 0; i < 5; i++) times.push((await spawnCli(['--version']).done).wallMs);
  record('CLI start-up, `canihaz --version` (ms, median of 5)', fmt(pct(times, 50), 0), '', true);
}

/** A scenario module of one `ctx.http.request`: what the scenario case measures against the http probe. */
const ONE_REQUEST_MODULE = `export const params = { url: { required: true } };
export default async function (ctx) {
  const res = await ctx.http.request(ctx.params.url);
  if (res.status !== 200) throw new Error(\`status \${res.status}\`);
}
`;

/** Agent CPU per 1000 executions of one test line at 60,000/min (no metrics sent), with `one.mjs` in its types_dir. */
async function cpuPerThousand(line, lifetime) {
  const t = await target();
  const h = home();
  const types = join(h.dir, 'types');
  mkdirSync(types);
  chmodSync(types, 0o755);
  writeFileSync(join(types, 'one.mjs'), ONE_REQUEST_MODULE, { mode: 0o644 });
  writeFileSync(h.config, `${line(t.url)}\n`);
  const run = await spawnCli(['run', ...h.args, '--types-dir', types, '--lifetime', String(lifetime)]).done;
  const hits = t.hits.length;
  await t.close();
  rmSync(h.dir, { recursive: true, force: true });
  const expected = lifetime * 1000;
  const ok = run.code === 0 && Math.abs(hits - expected) <= 1;
  return { perThousand: (run.cpuSeconds / hits) * 1000, hits, expected, ok };
}

/** Issue 9: a scenario of one ctx.http.request costs at most 1.5x the CPU of the http probe. */
async function scenarioCost(lifetime) {
  const http = await cpuPerThousand((url) => `b|http|60000|none|url=${url}/|concurrency=200`, lifetime);
  const scenario = await cpuPerThousand((url) => `b|one|60000|none|url=${url}/|concurrency=200`, lifetime);
  for (const [what, r] of [['http probe', http], ['scenario of one ctx.http.request', scenario]]) {
    record(`${what} at 60000/min: requests at the server / expected`, `${r.hits} / ${r.expected}`, '±1', r.ok);
    record(`${what} at 60000/min: agent CPU per 1000 executions (s)`, fmt(r.perThousand, 3), '', true);
  }
  const ratio = scenario.perThousand / http.perThousand;
  record('scenario / http agent CPU per execution', `${fmt(ratio, 2)}x`, '<= 1.5x', ratio <= 1.5);
}

/** Issue 10 items 2, 3, 5: the peers side by side, the ceiling, the metric overhead (bench/peers.mjs). */
let peers;
async function peersCase() {
  peers = await peersBench({ quick, record });
}

/** Issue 10 items 1 and 4: cold start against bare Node, and what a quiet or busy minute costs (bench/cold-start.mjs, bench/cost.mjs). */
const coldStartCase = () => coldStart({ quick, record });
const costCase = () => costBench({ quick, full: process.argv.includes('--full'), record });

// 10 s for the 2,000-test case (its start-up is a larger share of a shorter run); 5 s elsewhere keeps
// the whole bench under 5 minutes with thousands of samples per figure.
const lifetime = quick ? 3 : 10;
const shortLifetime = quick ? 3 : 5;
const CASES = { scenario: () => scenarioCost(shortLifetime), peers: peersCase, 'cold-start': coldStartCase, cost: costCase };
const only = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (only !== undefined) {
  if (!(only in CASES)) {
    console.error(`unknown case ${JSON.stringify(only)}; cases: ${Object.keys(CASES).join(', ')}`);
    process.exit(2);
  }
  await CASES[only]();
} else {
  await startup();
  await coldStartCase();
  await costCase();
  await pacing('1 test at 60000/min', 1, 60_000, shortLifetime);
  await pacing('50 tests at 1200/min', 50, 1_200, shortLifetime);
  // Issue 6's scale case: 2,000 tests at 60/min; at a whole-second lifetime every test owes exactly lifetime ticks.
  await pacing('2000 tests at 60/min', 2_000, 60, lifetime, { tolerance: 0, rssTargetMb: 400 });
  await stopReaction(quick ? 3 : 7);
  await configReaction(quick ? 3 : 7);
  await simultaneous(10);
  if (!quick) await killedSlot();
  await scenarioCost(shortLifetime);
  await peersCase();
}

const machine = {
  cpu: /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  date: new Date().toISOString(),
  args: process.argv.slice(2),
};
const cell = (s) => String(s).replaceAll('|', '\\|');
console.log(`\n| measure | canihaz | target | best peer |\n|---|---|---|---|`);
for (const r of results) console.log(`| ${cell(r.what)} | ${cell(r.value)} | ${cell(r.target || '—')} | ${cell(r.peer ?? '—')} |`);
if (peers?.markdown) console.log(`\n${peers.markdown}`);
console.log(`\n${machine.date.slice(0, 10)}, ${machine.cpu}, ${machine.cores} cores, node ${machine.node}${quick ? ', --quick' : ''}`);
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
// Only a whole, full-length run is the README's `latest.json`; a --quick or one-case run is `partial.json`.
const resultsFile = join(resultsDir, quick || only !== undefined ? 'partial.json' : 'latest.json');
writeFileSync(resultsFile, `${JSON.stringify({ machine, quick, failed, results, peers }, null, 2)}\n`);
console.error(`wrote ${resultsFile}`);
process.exitCode = failed ? 1 : 0;
