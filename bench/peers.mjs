#!/usr/bin/env node
// canihaz beside the load generators an operator would pick instead (issue 10, bench items 2, 3, 5),
// all against one loopback target (bench/peers-target.mjs: a separate Node process, keep-alive
// `node:http`, arrival times taken there with performance.now()), each tool run as a whole process.
//
//   bash bench/peers.sh                      once: installs the peers into a cache outside the repo
//   node bench/peers.mjs [--quick] [--only peers|closed|ceiling|floor|overhead] [--seconds N] [--rates a,b]
//   import { peersBench } from './peers.mjs' from bench/run.mjs
//
// Per tool and rate (60,000 and 300,000/min; 600,000/min to see where each breaks), for `seconds` s:
// delivered / requested at the target; spacing at the target: p99 of |gap − ideal gap| and p99 of
// |arrival − its ideal time| on the absolute schedule (ideal time i = offset + i·gap, offset the median
// of arrival_i − i·gap, i.e. the best-aligned schedule); busiest 100 ms ÷ mean 100 ms (whole 100 ms
// bins from the first arrival); CPU seconds (user + system of the tool's process and its reaped
// children, from /usr/bin/time); peak RSS (largest of /usr/bin/time's %M and the summed VmRSS of the
// tool's process tree sampled from /proc every 50 ms); wall time (spawn → exit).
// Closed loop: autocannon and wrk, requests/s counted at the target. Ceiling: the highest rate one
// canihaz copy delivers at ≥ 99.9 % with p99 lag ≤ 5 ms (its own StatsD `lag` timing), over
// autocannon's closed-loop maximum. Floor: the same search for bench/floor.mjs, a generator that only
// paces pre-built requests onto sockets (what pacing alone reaches on this machine and runtime; run
// by the full bench and by --only floor). Metric overhead: CPU with `statsd,graphite` over CPU with `none`.
// canihaz runs as `canihaz run --lifetime S --phase off` (a --lifetime window starts once set-up is
// done, so there is no catch-up; the phase would only shift every tick by the same < 1 period).
// Everything targets 127.0.0.1; every tool is bounded by its duration + 3 s, then killed; every process
// started here (each in a process group of its own) is killed on exit, failure and Ctrl-C included.
import { fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TARGET = fileURLToPath(new URL('./peers-target.mjs', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor.mjs', import.meta.url));
/** Where bench/peers.sh installs the npm peers. */
export const CACHE = process.env.CANIHAZ_BENCH_CACHE || join(homedir(), '.cache', 'canihaz-bench');
const NPM_BIN = join(CACHE, 'npm', 'node_modules', '.bin');
const TIME = '/usr/bin/time';

/** Per-minute rates of the side-by-side runs; the last one is only there to see where each breaks. */
export const RATES = [60_000, 300_000, 600_000];
/** canihaz's `concurrency` where the default (100) drops ticks; CANIHAZ_BENCH_CONCURRENCY overrides it. */
export const TUNED_CONCURRENCY = Number(process.env.CANIHAZ_BENCH_CONCURRENCY) || 500;
const CEILING_LAG_MS = 5;
const CEILING_DELIVERED = 0.999;
const NODE_PEERS = new Set(['loadtest', 'artillery']);
/** How long a tool may run past its duration (start-up, draining) before it is killed. */
const GRACE_S = 3;
/** Below this fraction delivered a tool has broken at that rate, and is not run at a higher one. */
const BROKE = 0.95;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (values, p) => {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const median = (values) => {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const perMin = (n) => `${n.toLocaleString('en-US')}/min`;

// ---- processes: every one started here is remembered and killed (with its group) at exit ----------

const live = new Set();
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
function killPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
process.on('exit', () => {
  for (const child of live) killGroup(child);
});

/** The pid and its descendants (via /proc/<pid>/task/<tid>/children). */
function tree(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length > 0 && out.length < 1_000) {
    const p = stack.pop();
    out.push(p);
    try {
      for (const tid of readdirSafe(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids) stack.push(...kids.split(' ').map(Number));
      }
    } catch {
      /* exited */
    }
  }
  return out;
}
function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `cmd args` under /usr/bin/time in a process group of its own, killed after `timeoutMs`.
 * Resolves { code, killed, wallS, cpuS, peakRssMb, stdout, stderr }.
 */
function measured(cmd, args, { env = {}, timeoutMs, keepStdout = false }) {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-peer-'));
  const timeFile = join(dir, 'time');
  const started = performance.now();
  const child = spawn(TIME, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {
    stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'],
    env: { ...process.env, ...env },
    detached: true,
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => stdout.length < 1e6 && (stdout += d));
  child.stderr.on('data', (d) => stderr.length < 1e5 && (stderr += d));
  let peakTreeKb = 0;
  const sampler = setInterval(() => {
    const pids = tree(child.pid).slice(1); // not /usr/bin/time itself
    peakTreeKb = Math.max(peakTreeKb, pids.reduce((a, p) => a + rssKb(p), 0));
  }, 50);
  let killed = false;
  // On time-out, kill the tool's processes but not /usr/bin/time, which then still reports their usage.
  const timer = setTimeout(() => {
    killed = true;
    for (const pid of tree(child.pid).slice(1)) killPid(pid);
    setTimeout(() => killGroup(child), 1_000).unref();
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const wallS = (performance.now() - started) / 1000;
      clearInterval(sampler);
      clearTimeout(timer);
      live.delete(child);
      killGroup(child); // anything the tool left behind in its group
      let cpuS = NaN;
      let peakRssMb = peakTreeKb / 1024;
      try {
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        if (last.length === 4 && last.every(Number.isFinite)) {
          cpuS = last[1] + last[2];
          peakRssMb = Math.max(peakRssMb, last[3] / 1024);
        }
      } catch {
        /* killed before time wrote */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, killed, wallS, cpuS, peakRssMb, stdout, stderr });
    });
  });
}

// ---- the target ------------------------------------------------------------------------------------

async function startTarget() {
  const child = fork(TARGET, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true });
  live.add(child);
  const replies = [];
  let waiting;
  child.on('message', (m) => (waiting ? (waiting(m), (waiting = undefined)) : replies.push(m)));
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((r) => (waiting = r)));
  const exited = new Promise((_, reject) => child.once('exit', (c) => reject(new Error(`peers target exited (${c})`))));
  exited.catch(() => {});
  const ask = (cmd) => (child.send({ cmd }), Promise.race([next(), exited]));
  const { port } = await Promise.race([next(), exited]);
  return {
    url: `http://127.0.0.1:${port}/`,
    reset: () => ask('reset'),
    /** The arrivals since the last reset (ms, performance.now() of the target), and connections opened. */
    collect: async () => {
      const m = await ask('collect');
      const b = Buffer.from(m.arrivals, 'base64');
      return { arrivals: new Float64Array(b.buffer, b.byteOffset, b.length / 8), connections: m.connections };
    },
    close: () => {
      live.delete(child);
      child.disconnect();
      killGroup(child);
    },
  };
}

/** A UDP StatsD listener that keeps the `lag` timings and counts the lines. */
async function startStatsd() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let lags = [];
  let lines = 0;
  socket.on('message', (buf) => {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      lines++;
      const m = /^[^:]+\.lag:([^|]+)\|ms/.exec(line);
      if (m) lags.push(Number(m[1]));
    }
  });
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    take: () => {
      const out = { lags, lines };
      lags = [];
      lines = 0;
      return out;
    },
    close: () => new Promise((r) => socket.close(r)),
  };
}

/** A TCP Graphite plaintext listener that counts lines. */
async function startGraphite() {
  let lines = 0;
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => {
      for (const c of d) if (c === 10) lines++;
    });
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${server.address().port}`,
    take: () => {
      const n = lines;
      lines = 0;
      return n;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

// ---- the tools -------------------------------------------------------------------------------------

/** Why a peer cannot run here, or undefined. */
function missing(tool) {
  if (tool === 'k6') return "not available from this machine's registries";
  if (['loadtest', 'artillery', 'autocannon'].includes(tool) && !existsSync(join(NPM_BIN, tool))) return `not installed: bash bench/peers.sh`;
  if (['hey', 'wrk'].includes(tool) && !existsSync(`/usr/bin/${tool}`)) return `not installed: bash bench/peers.sh`;
  return undefined;
}

/** The version of each peer found here (for latest.json), or why it is missing. */
export function peerVersions() {
  const out = {};
  for (const tool of ['loadtest', 'autocannon', 'artillery']) {
    try {
      out[tool] = JSON.parse(readFileSync(join(CACHE, 'npm', 'node_modules', tool, 'package.json'), 'utf8')).version;
    } catch {
      out[tool] = missing(tool) ?? 'unknown';
    }
  }
  for (const tool of ['hey', 'wrk']) {
    try {
      out[tool] = readFileSync('/var/lib/dpkg/status', 'utf8').split('\n\n').find((b) => b.startsWith(`Package: ${tool}\n`))?.match(/^Version: (.+)$/m)?.[1] ?? missing(tool) ?? 'unknown';
    } catch {
      out[tool] = missing(tool) ?? 'unknown';
    }
  }
  out.k6 = missing('k6');
  return out;
}

/** A canihaz home: tests file, settings, stop file and lock dir of its own. */
function canihazArgs(dir, line, seconds, extra = []) {
  writeFileSync(join(dir, 'canihaz.conf'), '');
  writeFileSync(join(dir, 'tests.conf'), `${line}\n`);
  return [
    CLI, 'run', '--lifetime', String(seconds), '--phase', 'off',
    '--config', join(dir, 'tests.conf'), '--settings', join(dir, 'canihaz.conf'),
    '--stop-file', join(dir, 'stop'), '--lock-dir', join(dir, 'lock'), ...extra,
  ];
}

/** The command that makes `tool` send `rate`/min to `url` for `seconds` s (open model). */
function openCommand(tool, url, rate, seconds, dir) {
  const perSecond = rate / 60;
  switch (tool) {
    case 'canihaz':
    case 'canihaz-tuned': {
      const concurrency = tool === 'canihaz' ? '' : `|concurrency=${TUNED_CONCURRENCY}`;
      const line = `p|http|${rate}|none|url=${url}${concurrency}`;
      return { cmd: process.execPath, args: canihazArgs(dir, line, seconds, ['--max-frequency', String(rate), '--max-total-rate', String(Math.max(rate, 600_000))]) };
    }
    case 'loadtest':
      // --rps is the whole run's rate, shared by the -c clients; keep-alive agent; bounded by -t and -n.
      return { cmd: join(NPM_BIN, 'loadtest'), args: ['-k', '--quiet', '--rps', String(perSecond), '-c', '10', '-t', String(seconds), '-n', String(perSecond * seconds), url] };
    case 'hey': {
      // -q is per worker: 50 workers (hey's default) at rate/50 each.
      const workers = 50;
      return { cmd: '/usr/bin/hey', args: ['-z', `${seconds}s`, '-c', String(workers), '-q', String(perSecond / workers), url] };
    }
    case 'artillery': {
      const file = join(dir, 'artillery.yml');
      writeFileSync(file, `config:\n  target: "${url.replace(/\/$/, '')}"\n  phases:\n    - duration: ${seconds}\n      arrivalRate: ${perSecond}\nscenarios:\n  - flow:\n      - get:\n          url: "/"\n`);
      // ARTILLERY_DISABLE_TELEMETRY still sends an anonymous event to an outside host at exit (and
      // waits ~15 s for it here, where there is no route): the preload makes posthog-node fail to
      // load, which Artillery takes as "no telemetry". Nothing then leaves 127.0.0.1.
      const noTelemetry = join(dir, 'no-telemetry.cjs');
      writeFileSync(noTelemetry, NO_TELEMETRY);
      return { cmd: join(NPM_BIN, 'artillery'), args: ['run', '--quiet', file], env: { ARTILLERY_DISABLE_TELEMETRY: '1', NODE_OPTIONS: `--require ${noTelemetry}` } };
    }
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

/** A preload for Artillery: `require('posthog-node')` throws, so its telemetry client is a no-op. */
const NO_TELEMETRY = `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'posthog-node') throw new Error('telemetry disabled by the canihaz bench');
  return load.call(this, request, ...rest);
};
`;

/** Spacing and counts of `arrivals` (ms) against `rate`/min for `seconds` s. */
export function analyse(arrivals, rate, seconds) {
  const n = arrivals.length;
  const requested = Math.round((rate / 60) * seconds);
  const gap = 60_000 / rate;
  if (n < 2) return { n, requested, delivered: n / requested, gapP99: NaN, absP99: NaN, burst: NaN, spanS: 0 };
  const t = Float64Array.from(arrivals).sort();
  const gaps = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) gaps[i - 1] = Math.abs(t[i] - t[i - 1] - gap);
  const offsets = new Float64Array(n);
  for (let i = 0; i < n; i++) offsets[i] = t[i] - i * gap;
  const offset = median(offsets);
  const abs = offsets.map((o) => Math.abs(o - offset));
  const bins = Math.floor((t[n - 1] - t[0]) / 100);
  let burst = NaN;
  if (bins >= 1) {
    const counts = new Uint32Array(bins);
    let inBins = 0;
    for (const x of t) {
      const b = Math.floor((x - t[0]) / 100);
      if (b < bins) {
        counts[b]++;
        inBins++;
      }
    }
    burst = Math.max(...counts) / (inBins / bins);
  }
  return { n, requested, delivered: n / requested, gapP99: pct(gaps, 99), absP99: pct(abs, 99), burst, spanS: (t[n - 1] - t[0]) / 1000 };
}

async function openRun(target, tool, rate, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-peers-'));
  try {
    const { cmd, args, env } = openCommand(tool, target.url, rate, seconds, dir);
    await target.reset();
    const run = await measured(cmd, args, { env, timeoutMs: (seconds + GRACE_S) * 1000 });
    await sleep(200);
    const { arrivals, connections } = await target.collect();
    const a = analyse(arrivals, rate, seconds);
    let note = run.killed ? `killed after ${seconds + GRACE_S} s` : run.code !== 0 ? `exit ${run.code}: ${lastLine(run.stderr)}` : '';
    if (tool.startsWith('canihaz')) note = [note, summaryOf(run.stderr)].filter(Boolean).join('; ');
    return { tool, rate, ...a, connections, cpuS: run.cpuS, peakRssMb: run.peakRssMb, wallS: run.wallS, note };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** canihaz's own account of the run, from its summary log line: `dropped=… missed=…` when not 0. */
function summaryOf(stderr) {
  const m = /msg=summary .*?dropped=(\d+) missed=(\d+)/.exec(stderr);
  if (!m) return 'no summary line';
  return [m[1] !== '0' ? `dropped ${m[1]}` : '', m[2] !== '0' ? `missed ${m[2]}` : ''].filter(Boolean).join(', ');
}

const lastLine = (s) => s.trim().split('\n').filter(Boolean).slice(-1)[0]?.slice(0, 160) ?? '';

/** Closed loop: as fast as `tool` goes for `seconds` s with `connections`; requests/s at the target. */
async function closedRun(target, tool, seconds, connections) {
  const url = target.url;
  const cmd = tool === 'autocannon' ? join(NPM_BIN, 'autocannon') : '/usr/bin/wrk';
  const args = tool === 'autocannon' ? ['-c', String(connections), '-d', String(seconds), '--json', url] : ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, url];
  await target.reset();
  const run = await measured(cmd, args, { timeoutMs: (seconds + GRACE_S) * 1000, keepStdout: true });
  await sleep(200);
  const { arrivals } = await target.collect();
  const n = arrivals.length;
  const spanS = n > 1 ? (arrivals[n - 1] - arrivals[0]) / 1000 : NaN;
  return { tool, connections, n, perSecond: n / spanS, cpuS: run.cpuS, peakRssMb: run.peakRssMb, wallS: run.wallS, note: run.code !== 0 ? `exit ${run.code}: ${lastLine(run.stderr)}` : '' };
}

/** One canihaz run at `rate` with destinations `dest`; delivered at the target, lag from StatsD, CPU. */
async function canihazRun(target, rate, seconds, { dest = 'statsd', concurrency = TUNED_CONCURRENCY, statsd, graphite }) {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-peers-'));
  try {
    const line = `p|http|${rate}|${dest}|url=${target.url}|concurrency=${concurrency}`;
    const extra = ['--max-frequency', String(rate), '--max-total-rate', String(Math.max(rate, 600_000))];
    if (statsd) extra.push('--statsd', statsd.address);
    if (graphite) extra.push('--graphite', graphite.address);
    statsd?.take();
    graphite?.take();
    await target.reset();
    const run = await measured(process.execPath, canihazArgs(dir, line, seconds, extra), { timeoutMs: (seconds + GRACE_S) * 1000 });
    await sleep(300);
    const { arrivals } = await target.collect();
    const sd = statsd?.take() ?? { lags: [], lines: 0 };
    const graphiteLines = graphite?.take() ?? 0;
    const requested = Math.round((rate / 60) * seconds);
    return {
      rate, n: arrivals.length, requested, delivered: arrivals.length / requested,
      lagP99: pct(sd.lags, 99), lagSamples: sd.lags.length, statsdLines: sd.lines, graphiteLines,
      cpuS: run.cpuS, peakRssMb: run.peakRssMb, wallS: run.wallS, code: run.code,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the cases -------------------------------------------------------------------------------------

const OPEN_TOOLS = ['canihaz', 'canihaz-tuned', 'loadtest', 'hey', 'artillery', 'k6'];

function peerMatrix(rows) {
  const lines = [
    '| tool | rate | delivered / requested | gap p99 dev (ms) | schedule p99 dev (ms) | busiest 100 ms ÷ mean | CPU (s) | peak RSS (MB) | wall (s) | connections | note |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    if (r.skip) {
      lines.push(`| ${r.label ?? r.tool} | ${perMin(r.rate)} | — | — | — | — | — | — | — | — | ${r.skip} |`);
      continue;
    }
    lines.push(`| ${r.label ?? r.tool} | ${perMin(r.rate)} | ${r.n} / ${r.requested} (${fmt(r.delivered * 100, 1)} %) | ${fmt(r.gapP99, 2)} | ${fmt(r.absP99, 2)} | ${fmt(r.burst, 2)} | ${fmt(r.cpuS, 2)} | ${fmt(r.peakRssMb, 0)} | ${fmt(r.wallS, 1)} | ${r.connections} | ${r.note || ''} |`);
  }
  return lines.join('\n');
}

/** Item 2: every tool at every rate. Records canihaz against the best peer at each compared rate. */
async function sideBySide(target, { seconds, rates, tools, record, log }) {
  const rows = [];
  for (const rate of rates) {
    for (const tool of tools) {
      // The tuned copy is only worth its time where the default drops ticks.
      if (tool === 'canihaz-tuned' && rate < 300_000) continue;
      if (tool === 'canihaz-tuned' && rows.some((r) => r.tool === 'canihaz' && r.rate === rate && r.delivered >= CEILING_DELIVERED)) {
        rows.push({ tool, rate, skip: 'not run: the default delivered ≥ 99.9 %', label: `canihaz (concurrency ${TUNED_CONCURRENCY})` });
        continue;
      }
      const why = missing(tool);
      if (why) {
        rows.push({ tool, rate, skip: why });
        continue;
      }
      // A tool that broke at the rate before (delivered < 95 %) is not run at a higher one; canihaz
      // always runs at the two compared rates.
      const compared = rates.indexOf(rate) < 2 && tool.startsWith('canihaz');
      const before = compared ? undefined : rows.findLast((r) => r.tool === tool && !r.skip);
      if (before && before.delivered < BROKE) {
        rows.push({ tool, rate, skip: `not run: ${fmt(before.delivered * 100, 1)} % at ${perMin(before.rate)}`, label: before.label });
        continue;
      }
      const r = await openRun(target, tool, rate, seconds);
      r.label = tool === 'canihaz' ? 'canihaz (concurrency 100)' : tool === 'canihaz-tuned' ? `canihaz (concurrency ${TUNED_CONCURRENCY})` : tool;
      rows.push(r);
      log(`${r.label} at ${perMin(rate)}: ${r.n}/${r.requested}, gap p99 ${fmt(r.gapP99, 2)} ms, schedule p99 ${fmt(r.absP99, 2)} ms, busiest ${fmt(r.burst, 2)}×, CPU ${fmt(r.cpuS, 2)} s, RSS ${fmt(r.peakRssMb, 0)} MB, wall ${fmt(r.wallS, 1)} s ${r.note}`);
    }
  }
  for (const rate of rates.slice(0, 2)) compareAtRate(rows.filter((r) => r.rate === rate && !r.skip), rate, record);
  return rows;
}

/** The summary rows: each canihaz figure at `rate` beside its target and the best peer's figure. */
function compareAtRate(rows, rate, record) {
  const peers = rows.filter((r) => !r.tool.startsWith('canihaz'));
  const full = peers.filter((r) => r.delivered >= 0.99); // spacing of a peer that did not deliver says little
  const best = (list, key) => list.filter((r) => Number.isFinite(r[key])).sort((a, b) => a[key] - b[key])[0];
  const bestDelivered = peers.slice().sort((a, b) => Math.abs(1 - a.delivered) - Math.abs(1 - b.delivered))[0];
  for (const c of rows.filter((r) => r.tool.startsWith('canihaz'))) {
    const at = `${perMin(rate)}, ${c.label}`;
    const peer = (r, key, d, none = '—') => (r ? `${r.tool} ${fmt(r[key], d)}` : none);
    record(`${at}: delivered / requested`, `${c.n} / ${c.requested} (${fmt(c.delivered * 100, 1)} %)`, '≥ 99.9 %', c.delivered >= CEILING_DELIVERED, { peer: bestDelivered ? `${bestDelivered.tool} ${fmt(bestDelivered.delivered * 100, 1)} %` : '—' });
    for (const [key, what, d] of [['gapP99', 'gap p99 deviation from the ideal gap (ms)', 2], ['absP99', 'schedule p99 deviation from the ideal times (ms)', 2], ['burst', 'busiest 100 ms ÷ mean', 2]]) {
      const b = best(full, key);
      record(`${at}: ${what}`, fmt(c[key], d), '≤ best peer', b === undefined || c[key] <= b[key], { peer: peer(b, key, d, 'no peer delivered ≥ 99 %') });
    }
    const nodePeers = peers.filter((r) => NODE_PEERS.has(r.tool) && Number.isFinite(r.cpuS));
    const cheapestNode = best(nodePeers, 'cpuS');
    record(`${at}: CPU (s)`, fmt(c.cpuS, 2), '< every Node peer', cheapestNode === undefined || c.cpuS < cheapestNode.cpuS, { peer: `${peer(best(peers, 'cpuS'), 'cpuS', 2)}; Node: ${peer(cheapestNode, 'cpuS', 2)}` });
    record(`${at}: peak RSS (MB)`, fmt(c.peakRssMb, 0), '', true, { peer: peer(best(peers, 'peakRssMb'), 'peakRssMb', 0) });
  }
}

/** Closed-loop maxima of autocannon and wrk. */
async function closedLoop(target, { seconds, record, log }) {
  const out = {};
  for (const tool of ['autocannon', 'wrk']) {
    const why = missing(tool);
    if (why) {
      record(`closed-loop maximum, ${tool} (requests/s)`, why, '', true);
      continue;
    }
    const r = await closedRun(target, tool, seconds, 50);
    out[tool] = r;
    log(`${tool} closed loop, 50 connections: ${fmt(r.perSecond, 0)}/s (${r.n} in ${seconds} s), CPU ${fmt(r.cpuS, 2)} s, RSS ${fmt(r.peakRssMb, 0)} MB ${r.note}`);
    record(`closed-loop maximum, ${tool}, 50 connections (requests/s at the target)`, `${fmt(r.perSecond, 0)} (${perMin(Math.round(r.perSecond * 60))})`, '', true);
  }
  return out;
}

const ceilingOk = (r) => r.delivered >= CEILING_DELIVERED && r.lagP99 <= CEILING_LAG_MS && r.code === 0;

/**
 * Item 3: first the target, 0.8 × autocannon's maximum; then, `steps` − 1 times, the middle of the
 * bracket [highest pass, lowest fail], or — after a fail — 0.9 × the rate that run did deliver when
 * that is lower (a copy far below the target finds its own level in one step instead of halving down
 * to it). Rates are multiples of 6,000/min (100/s). Returns the highest passing rate.
 */
async function ceiling(target, statsd, maxPerSecond, { seconds, steps, record, log, runAt = (rate) => canihazRun(target, rate, seconds, { statsd }), who = 'canihaz', first = 0.8, hint }) {
  const maxPerMinute = maxPerSecond * 60;
  const round = (perMinute) => Math.max(6_000, Math.round(perMinute / 6_000) * 6_000);
  let lo = 0; // highest passing rate so far
  let hi = Infinity; // lowest failing rate so far
  let rate = round(first * maxPerMinute);
  let best;
  const tried = [];
  for (let i = 0; i < steps; i++) {
    const r = await runAt(rate);
    const ok = ceilingOk(r);
    tried.push({ frac: rate / maxPerMinute, ...r, ok });
    log(`${who} ceiling step ${i + 1}: ${perMin(rate)} (${fmt(rate / maxPerMinute, 2)} of autocannon): delivered ${fmt(r.delivered * 100, 2)} %, lag p99 ${fmt(r.lagP99, 2)} ms (${r.lagSamples} samples), CPU ${fmt(r.cpuS, 2)} s → ${ok ? 'pass' : 'fail'}`);
    if (ok) {
      lo = rate;
      best = r;
    } else hi = rate;
    let next = hi === Infinity ? round(Math.min(maxPerMinute, rate * 1.25)) : round((lo + hi) / 2);
    if (!ok) next = Math.min(next, Math.max(round(0.9 * r.n * (60 / seconds)), round(lo + 6_000)));
    // The bare generator's ceiling (when known) is where a failing search goes next: canihaz does more.
    if (!ok && hint !== undefined && hint > lo && hint < next) next = hint;
    if (next <= lo || next >= hi) break; // the bracket is one step wide
    rate = next;
  }
  const ratio = best ? best.rate / (maxPerSecond * 60) : 0;
  const what = who === 'canihaz' ? 'ceiling' : `ceiling of ${who}`;
  record(
    `${what}: highest rate at ≥ 99.9 % and p99 lag ≤ ${CEILING_LAG_MS} ms (concurrency ${TUNED_CONCURRENCY}) ÷ autocannon's closed-loop maximum`,
    best ? `${perMin(best.rate)} ÷ ${perMin(Math.round(maxPerSecond * 60))} = ${fmt(ratio, 2)}` : `none of ${tried.map((t) => perMin(t.rate)).join(', ')} passed`,
    who === 'canihaz' ? '≥ 0.8' : '',
    who === 'canihaz' ? ratio >= 0.8 : true,
  );
  return { best, ratio, tried };
}

/**
 * The floor under the ceiling: bench/floor.mjs, an open-model generator that does nothing but pace
 * pre-built requests onto up to TUNED_CONCURRENCY keep-alive sockets, at `rate`; delivered counted at
 * the target, its lag (dispatch − tick) from its own report.
 */
async function floorRun(target, rate, seconds) {
  await target.reset();
  const run = await measured(process.execPath, [FLOOR, target.url, String(rate), String(seconds), String(TUNED_CONCURRENCY)], { timeoutMs: (seconds + GRACE_S) * 1000, keepStdout: true });
  await sleep(300);
  const { arrivals } = await target.collect();
  let own = {};
  try {
    own = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
  } catch {
    // No report: the run failed, and its exit code says so.
  }
  const requested = Math.round((rate / 60) * seconds);
  return { rate, n: arrivals.length, requested, delivered: arrivals.length / requested, lagP99: own.lagP99 ?? NaN, lagSamples: own.sent ?? 0, cpuS: run.cpuS, peakRssMb: run.peakRssMb, wallS: run.wallS, code: run.code };
}

/** Item 5: CPU with statsd,graphite ÷ CPU with none, same load, interleaved `pairs` times; median of each. */
async function overhead(target, statsd, graphite, { seconds, pairs, rate, record, log }) {
  const none = [];
  const both = [];
  let last;
  for (let i = 0; i < pairs; i++) {
    none.push(await canihazRun(target, rate, seconds, { dest: 'none', concurrency: 100 }));
    last = await canihazRun(target, rate, seconds, { dest: 'statsd,graphite', concurrency: 100, statsd, graphite });
    both.push(last);
  }
  const cpuNone = median(none.map((r) => r.cpuS));
  const cpuBoth = median(both.map((r) => r.cpuS));
  const ratio = cpuBoth / cpuNone;
  log(`metric overhead at ${perMin(rate)}: none ${none.map((r) => fmt(r.cpuS, 2)).join(' ')} s, statsd,graphite ${both.map((r) => fmt(r.cpuS, 2)).join(' ')} s; last run sent ${last.statsdLines} StatsD lines, ${last.graphiteLines} Graphite lines`);
  record(`metric overhead: CPU with statsd,graphite ÷ none at ${perMin(rate)}, ${seconds} s (median of ${pairs})`, `${fmt(cpuBoth, 2)} ÷ ${fmt(cpuNone, 2)} = ${fmt(ratio, 2)}`, '≤ 1.10', ratio <= 1.1);
  return { rate, none, both, ratio };
}

/**
 * Items 2, 3 and 5 against one target. `record(what, value, target, ok, { peer })` gets the summary
 * rows; resolves the raw figures (for latest.json) and the peer matrix as Markdown.
 */
export async function peersBench({ quick = false, seconds = quick ? 2 : 5, rates = RATES, only, record, log = (s) => console.error(`     ${s}`) } = {}) {
  if (!existsSync(TIME)) {
    record('peers, ceiling, metric overhead', `not run: ${TIME} is missing (Debian package \`time\`): bash bench/peers.sh`, '', false);
    return { skipped: `${TIME} missing` };
  }
  // Ctrl-C or a kill of the bench still takes every tool and the target with it.
  const onSignal = (signal) => {
    for (const child of live) killGroup(child);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const target = await startTarget();
  const statsd = await startStatsd();
  const graphite = await startGraphite();
  const out = { seconds, rates, versions: peerVersions(), tunedConcurrency: TUNED_CONCURRENCY };
  try {
    const want = (c) => only === undefined || only === c;
    if (want('peers')) {
      out.open = await sideBySide(target, { seconds, rates, tools: OPEN_TOOLS, record, log });
      out.markdown = peerMatrix(out.open);
    }
    if (want('closed') || want('ceiling') || want('floor')) out.closed = await closedLoop(target, { seconds, record, log });
    if ((want('floor') || (only === undefined && !quick)) && out.closed?.autocannon) {
      // Its first step is 0.4 of autocannon: at 0.8 it has delivered 80-85 % in every run so far.
      out.floor = await ceiling(target, statsd, out.closed.autocannon.perSecond, {
        seconds, steps: 3, first: 0.4, record, log, who: 'a bare Node.js open-model generator (bench/floor.mjs)', runAt: (rate) => floorRun(target, rate, seconds),
      });
    }
    if (want('ceiling') && out.closed.autocannon) out.ceiling = await ceiling(target, statsd, out.closed.autocannon.perSecond, { seconds, steps: quick ? 2 : 4, record, log, hint: out.floor?.best?.rate });
    const [mine, bare] = [out.ceiling?.best, out.floor?.best];
    if (mine && bare) record('ceiling of canihaz ÷ ceiling of the bare generator (what canihaz\'s own work costs at its limit)', `${perMin(mine.rate)} ÷ ${perMin(bare.rate)} = ${fmt(mine.rate / bare.rate, 2)}`, '', true);
    if (want('overhead')) out.overhead = await overhead(target, statsd, graphite, { seconds, pairs: quick ? 1 : 2, rate: 60_000, record, log });
  } finally {
    target.close();
    await statsd.close();
    await graphite.close();
    for (const child of live) killGroup(child);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, seconds: { type: 'string' }, rates: { type: 'string' } },
  });
  let misses = 0;
  const rows = [];
  const record = (what, value, target, ok, more = {}) => {
    if (!ok) misses++;
    rows.push(`| ${what} | ${value} | ${target || '—'} | ${more.peer ?? '—'} |`);
    console.error(`${ok ? 'ok  ' : 'MISS'} ${what}: ${value}${target ? ` (target ${target})` : ''}${more.peer ? ` [best peer: ${more.peer}]` : ''}`);
  };
  const out = await peersBench({
    quick: values.quick,
    only: values.only,
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.rates ? { rates: values.rates.split(',').map(Number) } : {}),
    record,
  });
  console.log(`\n| measure | canihaz | target | best peer |\n|---|---|---|---|\n${rows.join('\n')}`);
  if (out.markdown) console.log(`\n${out.markdown}`);
  process.exitCode = misses ? 1 : 0;
}
