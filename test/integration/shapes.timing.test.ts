/**
 * Load shapes (issue 12) through the real CLI, measured at a real HTTP target: a known step's rate
 * exactly, a ramp's integral with its gaps shrinking as the rate rises, and Poisson arrivals with
 * the count, the spread and the very arrival times the planner gives for this host, test and minute.
 * Rate-sensitive, so in the timing project (one file at a time, after the rest).
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ticksIn } from '../../src/schedule/shape-plan.js';
import { loadAt, type LoadShape } from '../../src/schedule/shape.js';
import { agentHome, cleanups, percentile, runCli, startTarget, type TargetServer } from '../support/cli.js';

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  // Warm the test's own server (parser, handler JIT) so its first-request cost is not measured; then forget it.
  for (let i = 0; i < 5; i++) await fetch(`${t.url}/warm`).then((r) => r.text());
  t.hits.clear();
  return t;
}

/** An ISO time `ms` from now, to the second. */
const fromNow = (ms: number) => new Date(Math.floor((Date.now() + ms) / 1_000) * 1_000).toISOString();
const HOUR_MS = 3_600_000;

/** The window the run reports in its `run started` line (wall ms). */
function windowOf(stderr: string): { from: number; to: number } {
  const m = /msg="run started" .*window_start=(\S+) window_end=(\S+)/.exec(stderr);
  expect(m, stderr).not.toBeNull();
  return { from: Date.parse(m![1]!), to: Date.parse(m![2]!) };
}

/** The summary figure `key` of `test`. */
function summaryFigure(stderr: string, test: string, key: string): number {
  const line = stderr.split('\n').find((l) => l.includes('msg=summary') && l.includes(` test=${test} `))!;
  return Number(new RegExp(` ${key}=(\\d+)`).exec(line)![1]);
}

const gapsOf = (times: readonly number[]) => times.slice(1).map((t, i) => t - times[i]!);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Coefficient of variation: 1 for exponential gaps (Poisson), 0 for a metronome. */
const cv = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) / m;
};

describe('load shapes (real CLI, real target)', () => {
  it('a line whose current step is known receives that step’s rate exactly', async () => {
    const server = await target();
    const home = await agentHome();
    // Started 90 minutes ago with 1-hour steps: the run is inside the second step, 600/min, for half an hour.
    await home.writeConfig(`knee|http|1200,600,60|none|url=${server.url}/|start=${fromNow(-1.5 * HOUR_MS)}|step=1h|then=stop\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '3', '--log-level', 'info']);
    expect(r.code).toBe(0);
    expect(server.count('/')).toBe(30);
    expect(summaryFigure(r.stderr, 'knee', 'requested')).toBe(30);
  });

  it('a ramp over a 20 s window delivers its integral (±1), the gaps shrinking as the rate rises', { timeout: 60_000 }, async () => {
    const server = await target();
    const home = await agentHome();
    const start = fromNow(2_000);
    await home.writeConfig(`ramp|http|0..3000|none|url=${server.url}/|start=${start}|ramp=20s\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '20', '--log-level', 'info'], { killAfterMs: 45_000 });
    expect(r.code).toBe(0);
    const window = windowOf(r.stderr);
    const shape: LoadShape = { start: Date.parse(start), rates: { kind: 'ramp', from: 0, to: 3_000, rampMs: 20_000, then: 'hold' }, arrivals: 'even' };
    const integral = loadAt(shape, window.to) - loadAt(shape, window.from);
    expect(integral).toBeGreaterThan(300);
    const hits = server.hits.get('/') ?? [];
    expect(Math.abs(hits.length - integral)).toBeLessThanOrEqual(1);
    expect(Math.abs(summaryFigure(r.stderr, 'ramp', 'requested') - integral)).toBeLessThanOrEqual(1);
    // The rate rises: the first quarter of the arrivals is spread much wider than the last.
    const gaps = gapsOf(hits);
    const quarter = Math.floor(gaps.length / 4);
    const first = mean(gaps.slice(0, quarter));
    const last = mean(gaps.slice(-quarter));
    console.log(`shapes ramp 0..3000/min: ${hits.length} arrivals, integral ${integral.toFixed(2)}; mean gap first quarter ${first.toFixed(1)} ms, last ${last.toFixed(1)} ms`);
    expect(first, `mean gap first quarter ${first.toFixed(1)} ms, last ${last.toFixed(1)} ms`).toBeGreaterThan(2 * last);
  });

  it('Poisson at 6000/min over 10 s: 1000 ± 100 arrivals, the planner’s own times, gaps with a CV near 1', { timeout: 60_000 }, async () => {
    const server = await target();
    const home = await agentHome();
    await home.writeConfig(`p|http|6000|none|url=${server.url}/|arrivals=poisson\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '10', '--log-level', 'info'], { killAfterMs: 35_000 });
    expect(r.code).toBe(0);
    const window = windowOf(r.stderr);
    // The CLI's own seed inputs: this host, the test's name, the UTC minutes of its window.
    const shape: LoadShape = { rates: { kind: 'constant', perMinute: 6_000 }, arrivals: 'poisson' };
    const planned = ticksIn(shape, window, { phase: 0, key: { host: hostname(), test: 'p' } });
    expect(ticksIn(shape, window, { phase: 0, key: { host: hostname(), test: 'p' } })).toEqual(planned);
    const hits = server.hits.get('/') ?? [];
    // The count and the CV are random per UTC minute (the seed is host, test and minute), so the issue's
    // 1000 ± 100 and 0.85-1.15 (about 3 standard deviations: ~0.3 % of minutes fall outside) are
    // asserted on fixed seeds in test/unit/shape-poisson.test.ts; here the bounds are 5 standard
    // deviations (never crossed by chance), and what the CLI must do is exact: send the plan.
    expect(hits.length).toBeGreaterThanOrEqual(840);
    expect(hits.length).toBeLessThanOrEqual(1_160);
    expect(summaryFigure(r.stderr, 'p', 'requested')).toBe(planned.length);
    expect(hits.length).toBe(planned.length);
    // The planned gaps are exponential; at the target they are those gaps plus a few ms of jitter.
    const plannedCv = cv(gapsOf(planned));
    expect(plannedCv).toBeGreaterThan(0.85);
    expect(plannedCv).toBeLessThan(1.15);
    const atTarget = cv(gapsOf(hits));
    console.log(`shapes poisson 6000/min, 10 s: ${hits.length} arrivals (planned ${planned.length}); CV of gaps planned ${plannedCv.toFixed(3)}, at the target ${atTarget.toFixed(3)}`);
    // At the target the planned gaps carry a few ms of jitter: the CV follows the plan's closely.
    expect(Math.abs(atTarget - plannedCv), `CV at the target ${atTarget.toFixed(3)}, planned ${plannedCv.toFixed(3)}`).toBeLessThan(0.15);
    // Each arrival follows its planned time: offsets from the median offset (the two clocks' difference plus the usual lag).
    const offsets = hits.map((t, i) => t - planned[i]!);
    const median = percentile(offsets, 50);
    const off = offsets.map((o) => Math.abs(o - median));
    expect(percentile(off, 75), `p75 of |arrival − planned − median| (ms)`).toBeLessThan(25);
  });
});
