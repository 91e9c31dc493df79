#!/usr/bin/env node
// Cost (issue 10): what canihaz costs a host, every copy a whole process as cron runs it, against a
// loopback target (a separate Node process, keep-alive), metrics sent to a local UDP StatsD socket.
//
//   quiet minute     one test at 60/min: CPU seconds and peak RSS of a minute. By default measured
//                    as a 1 s run (start-up and exit; median of 3) and the steady part of a 15 s run
//                    (its threads' schedstat from 2 s in, ns), scaled: start-up +
//                    60 × the steady cost per second; `--full`: one whole 60 s run. Target ≤ 0.3 CPU-s.
//   10 tests         ten tests at 60/min each, the same way.
//   60,000/min       one test: peak RSS (target ≤ 80 MB) and CPU of a 10 s run.
//   10 windows       ten consecutive short runs (a process per window, one state and lock directory
//                    between them): the peak RSS of the last ones must not exceed the first ones'.
//
//   node bench/cost.mjs [--quick] [--full] [--node PATH] [--cli PATH]   alone
//   import { costBench } from './cost.mjs'                              from bench/run.mjs
//
// CPU is exact (the children's user + system time the kernel adds to this process's /proc/self/stat
// when it reaps one: all of the agent's threads); peak RSS is the agent's VmHWM read every 50 ms.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoopbackTarget } from './loopback-target.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ: the unit of /proc's times on Linux

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : String(n));

/** CPU seconds of this process's reaped children so far (cutime + cstime). */
function childrenCpuSeconds() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** A home for one series of runs: config, settings, stop file, lock and state directories. */
function createHome() {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-cost-'));
  writeFileSync(join(dir, 'canihaz.conf'), '');
  mkdirSync(join(dir, 'state'), { mode: 0o755 });
  return {
    dir,
    config: join(dir, 'tests.conf'),
    args: ['--config', join(dir, 'tests.conf'), '--settings', join(dir, 'canihaz.conf'), '--stop-file', join(dir, 'stop'), '--lock-dir', join(dir, 'lock'), '--state-dir', join(dir, 'state')],
  };
}

/** Nanoseconds on CPU of every thread of `pid` so far (/proc/PID/task/TID/schedstat), or undefined once it is gone. */
function threadsCpuNs(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns;
  } catch {
    return undefined;
  }
}

/**
 * Runs `canihaz run --lifetime L` to its end: exit code, exact CPU seconds (in 10 ms ticks), peak RSS
 * (MB), wall ms, and the steady CPU per second between 2 s after the spawn and the last sample before
 * the end (the threads' schedstat, in ns: the tick count alone is too coarse for a slope of a few ms/s).
 */
async function runOnce(node, cli, home, lifetime) {
  const before = childrenCpuSeconds();
  const started = performance.now();
  const child = spawn(node, [cli, 'run', ...home.args, '--lifetime', String(lifetime)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let peakKb = 0;
  let first; // [ms since spawn, ns] of the first sample at least 2 s in
  let last;
  const sample = () => {
    const at = performance.now() - started;
    if (at >= 2_000 && at <= lifetime * 1000 - 250) {
      const ns = threadsCpuNs(child.pid);
      if (ns !== undefined) {
        first ??= [at, ns];
        last = [at, ns];
      }
    }
    try {
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // Exited.
    }
  };
  const sampler = setInterval(sample, 50);
  const code = await new Promise((resolve) => child.once('exit', (c) => (sample(), resolve(c))));
  clearInterval(sampler);
  await new Promise((resolve) => (child.stderr.readableEnded ? resolve() : child.stderr.once('end', resolve)));
  if (code !== 0) throw new Error(`canihaz run --lifetime ${lifetime} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const steadyPerSecond = first && last && last[0] - first[0] >= 1_000 ? (last[1] - first[1]) / 1e9 / ((last[0] - first[0]) / 1000) : undefined;
  return { cpuSeconds: childrenCpuSeconds() - before, peakRssMb: peakKb / 1024, wallMs: performance.now() - started, steadyPerSecond };
}

/**
 * CPU and peak RSS of one minute of `lines`: with `full`, one 60 s run; else start-up (a 1 s run,
 * median of 3) plus 60 × the steady cost per second (from a `seconds`-long run).
 */
async function minuteOf(node, cli, lines, { full, seconds }) {
  const home = createHome();
  try {
    writeFileSync(home.config, lines.join('\n') + '\n');
    await runOnce(node, cli, home, 1); // warms the page cache (and a compile cache)
    if (full) {
      const r = await runOnce(node, cli, home, 60);
      return { cpuSeconds: r.cpuSeconds, peakRssMb: r.peakRssMb, how: 'a whole 60 s run' };
    }
    const short = [];
    for (let i = 0; i < 3; i++) short.push(await runOnce(node, cli, home, 1));
    const start1 = median(short.map((r) => r.cpuSeconds));
    const long = await runOnce(node, cli, home, seconds);
    // The slope from the long run's own samples; from the two runs' tick counts only without them.
    const perSecond = long.steadyPerSecond ?? Math.max(0, (long.cpuSeconds - start1) / (seconds - 1));
    const startUp = Math.max(0, start1 - perSecond);
    return {
      cpuSeconds: startUp + 60 * perSecond,
      peakRssMb: Math.max(long.peakRssMb, ...short.map((r) => r.peakRssMb)),
      startUp,
      perSecond,
      how: `start-up ${fmt(startUp)} s + 60 × ${fmt(perSecond * 1000, 1)} ms/s, from 1 s runs and the steady part of a ${seconds} s run`,
    };
  } finally {
    rmSync(home.dir, { recursive: true, force: true });
  }
}

/**
 * The cost figures; each is handed to `record(what, value, target, ok)` when given. `full` measures
 * the minutes whole; `quick` shortens every run (a smoke test).
 */
export async function costBench({ node = process.execPath, cli = CLI, quick = false, full = false, record } = {}) {
  const target = await startLoopbackTarget();
  const statsd = dgram.createSocket('udp4');
  statsd.on('message', () => {});
  await new Promise((resolve) => statsd.bind(0, '127.0.0.1', resolve));
  const sink = `statsd://127.0.0.1:${statsd.address().port}`;
  const line = (name, perMinute) => `${name}|http|${perMinute}|${sink}|url=${target.url}/${name}`;
  const seconds = quick ? 10 : 15;
  const out = {};
  try {
    const quiet = await minuteOf(node, cli, [line('quiet', 60)], { full, seconds });
    out.quiet = quiet;
    record?.(`quiet minute, 1 test at 60/min: agent CPU (s) [${quiet.how}]`, fmt(quiet.cpuSeconds), '≤ 0.3', quiet.cpuSeconds <= 0.3);
    record?.('quiet minute, 1 test at 60/min: agent peak RSS (MB)', fmt(quiet.peakRssMb, 0), '', true);

    const ten = await minuteOf(node, cli, Array.from({ length: 10 }, (_, i) => line(`t${i}`, 60)), { full, seconds });
    out.tenTests = ten;
    record?.(`10 tests × 60/min, a minute: agent CPU (s) [${ten.how}]`, fmt(ten.cpuSeconds), '', true);
    record?.('10 tests × 60/min: agent peak RSS (MB)', fmt(ten.peakRssMb, 0), '', true);

    const home = createHome();
    try {
      const lifetime = quick ? 5 : 10;
      writeFileSync(home.config, `${line('fast', 60_000)}|concurrency=200\n`);
      const before = await target.count();
      const r = await runOnce(node, cli, home, lifetime);
      const served = (await target.count()) - before;
      out.fast = { ...r, served, lifetime };
      record?.(`1 test at 60,000/min for ${lifetime} s: agent peak RSS (MB)`, fmt(r.peakRssMb, 0), '≤ 80', r.peakRssMb <= 80);
      record?.(`1 test at 60,000/min for ${lifetime} s: agent CPU (s), requests served / expected`, `${fmt(r.cpuSeconds)}, ${served} / ${lifetime * 1000}`, '', true);
    } finally {
      rmSync(home.dir, { recursive: true, force: true });
    }

    const windows = quick ? 5 : 10;
    const series = createHome();
    try {
      writeFileSync(series.config, `${line('window', 600)}\n`);
      const peaks = [];
      for (let i = 0; i < windows; i++) peaks.push((await runOnce(node, cli, series, 1)).peakRssMb);
      const k = Math.min(3, Math.floor(windows / 2));
      const first = median(peaks.slice(0, k));
      const last = median(peaks.slice(-k));
      // Grows: the last windows' median peak above the first windows' by more than 5 % (noise).
      const ok = last <= first * 1.05;
      out.windows = { peaks, first, last };
      record?.(`peak RSS over ${windows} consecutive process-per-window runs (MB, first → last)`, peaks.map((p) => fmt(p, 0)).join(' '), 'no growth (last ≤ first + 5 %)', ok);
    } finally {
      rmSync(series.dir, { recursive: true, force: true });
    }
  } finally {
    await target.close();
    statsd.close();
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, full: { type: 'boolean' }, node: { type: 'string' }, cli: { type: 'string' } } });
  let missed = 0;
  const record = (what, value, target, ok) => {
    if (!ok) missed++;
    console.log(`${ok ? 'ok  ' : 'MISS'} ${what}: ${value}${target ? ` (target ${target})` : ''}`);
  };
  await costBench({ quick: values.quick, full: values.full, record, ...(values.node ? { node: values.node } : {}), ...(values.cli ? { cli: values.cli } : {}) });
  process.exitCode = missed ? 1 : 0;
}
