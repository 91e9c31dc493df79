/**
 * Load shapes (issue 12) through the real CLI: `check` reports every shape problem with its file,
 * line and field, and a shaped test whose window owes it nothing sends nothing and never connects.
 * Rate-sensitive cases are in shapes.timing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, percentile, runCli, spawnCli, startTarget, waitFor, type TargetServer } from '../support/cli.js';

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  return t;
}

const URL = 'url=http://127.0.0.1:1/';
const HOUR_MS = 3_600_000;
/** An ISO time `ms` from now, to the second. */
const fromNow = (ms: number) => new Date(Math.floor((Date.now() + ms) / 1_000) * 1_000).toISOString();

/** The summary line's figures of `test` from a run's stderr. */
function summaryOf(stderr: string, test: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.includes('msg=summary') && l.includes(` test=${test} `));
  expect(line, `summary of ${test}`).toBeDefined();
  return Object.fromEntries([...line!.matchAll(/ (\w+)=([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

describe('load shapes: check (real CLI)', () => {
  it('accepts every form an operator writes', async () => {
    const home = await agentHome();
    await home.writeConfig(
      [
        `knee|http|60,120,240,480|statsd|${URL}|start=2026-12-01T14:00:00Z|step=5m|then=stop`,
        `steps|http|5,10,15,20|none|${URL}|start=2026-12-01T14:00:00Z|step=1m|then=repeat|repeat=3`,
        `saw|http|0..600|none|${URL}|start=2026-12-01T14:00:00+01:00|ramp=90s|then=repeat`,
        `ramp|http|60..600|none|${URL}|start=2026-12-01T14:00:00Z|ramp=10m|for=30m`,
        `soak|tcp|600|none|target=127.0.0.1:1|start=2026-12-01T14:00:30Z|end=2026-12-01T16:00:00Z`,
        `expires|http|60|none|${URL}|end=2030-01-01T00:00:00Z`,
        `real|http|6000|none|${URL}|arrivals=poisson`,
        `pause|http|0,0|none|${URL}|start=2026-12-01T14:00:00Z|step=500ms|then=hold|arrivals=even`,
      ].join('\n') + '\n',
    );
    const r = await runCli(['check', ...home.args]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok: 8 tests in 1 file');
    expect(r.code).toBe(0);
  });

  it('reports every shape problem at once, each as FILE:LINE: field: reason', async () => {
    const home = await agentHome();
    await home.writeConfig(
      [
        `good|http|60|none|${URL}`,
        `a|http|60,120|none|${URL}`,
        `b|http|60..600|none|${URL}|start=2026-12-01T14:00:00|ramp=10m`,
        `c|http|60|none|${URL}|start=2026-12-01T14:00:00Z|end=2026-12-01T13:00:00Z`,
        `d|http|60|none|${URL}|start=2026-12-01T14:00:00Z|end=2026-12-01T15:00:00Z|for=1h`,
        `e|http|60,120|none|${URL}|start=2026-12-01T14:00:00Z|step=1m|repeat=2`,
        `f|http|60,70000|none|${URL}|start=2026-12-01T14:00:00Z|step=1m`,
        `g|http|60|none|${URL}|ramp=1m|then=stop|arrivals=random|start=2026-02-29T00:00:00Z`,
        `h|http|60|none|${URL}|for=1h|start=2026-12-01T14:00:00Z|start=2026-12-01T15:00:00Z`,
      ].join('\n') + '\n',
    );
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(1);
    const f = home.config;
    expect(r.stderr.trim().split('\n')).toEqual([
      `${f}:2: step: required with a list of rates (each holds this long), e.g. step=5m`,
      `${f}:2: start: required with steps or a ramp (they run from it), e.g. start=2026-12-01T14:00:00Z`,
      `${f}:3: start: "2026-12-01T14:00:00" has no time zone; add Z for UTC, e.g. 2026-12-01T14:00:00Z`,
      `${f}:4: end: must be after start (2026-12-01T14:00:00.000Z), got 2026-12-01T13:00:00.000Z`,
      `${f}:5: for: give end= or for=, not both`,
      `${f}:6: repeat: needs then=repeat, got no then=`,
      `${f}:7: frequency: step 2: must be at most 60000 per minute (max_frequency), got 70000`,
      `${f}:8: start: is not a valid date and time, got "2026-02-29T00:00:00Z"`,
      `${f}:8: ramp: applies only to a ramp such as 60..600, got frequency "60"`,
      `${f}:8: then: applies only to steps or a ramp, got frequency "60"`,
      `${f}:8: arrivals: expected even or poisson, got "random"`,
      `${f}:9: start: given more than once`,
    ]);
    expect(r.stdout.trim()).toBe('12 problems; 1 valid test');
  });

  it('warns (exit 0) about a shape that has ended: valid, but it sends nothing', async () => {
    const home = await agentHome();
    await home.writeConfig(`a|http|60|none|${URL}\nold|http|60|none|${URL}|start=2020-01-01T00:00:00Z|for=1h\n`);
    const r = await runCli(['check', ...home.args]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([`${home.config}:2: end: warning: ended at 2020-01-01T01:00:00.000Z; this test sends nothing`, 'ok: 2 tests in 1 file']);
  });

  it('counts a shaped test at its peak against max_total_rate', async () => {
    const home = await agentHome();
    await home.writeConfig(`a|http|100|none|${URL}\nb|http|10,500,20|none|${URL}|start=2026-12-01T14:00:00Z|step=1m\n`);
    const r = await runCli(['check', ...home.args, '--max-total-rate', '550']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `${home.config}:2: frequency: 500 per minute (its peak) would bring this agent's total to 600 per minute, over max_total_rate 550 (the tests before this line already total 100)`,
    );
  });
});

describe('load shapes: a window the shape owes nothing (real CLI)', () => {
  it('a future start and a past end send nothing and open no connection; requested is 0', async () => {
    const future = await target();
    const past = await target();
    const control = await target();
    const home = await agentHome();
    await home.writeConfig(
      [
        `future|http|600|none|url=${future.url}/|start=${fromNow(HOUR_MS)}`,
        `soon|http|60,600|none|url=${future.url}/soon|start=${fromNow(HOUR_MS)}|step=1m`,
        `past|http|600|none|url=${past.url}/|end=${fromNow(-HOUR_MS)}`,
        `over|http|600,60|none|url=${past.url}/over|start=${fromNow(-2 * HOUR_MS)}|step=30m|then=stop`,
        `control|http|600|none|url=${control.url}/`,
      ].join('\n') + '\n',
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '2', '--log-level', 'info']);
    expect(r.code).toBe(0);
    expect(control.count('/')).toBe(20);
    for (const t of [future, past]) {
      expect(t.hits.size).toBe(0);
      expect(t.connections).toEqual([]);
    }
    for (const test of ['future', 'soon', 'past', 'over']) {
      expect(summaryOf(r.stderr, test)).toMatchObject({ requested: 0, started: 0, missed: 0, dropped: 0 });
    }
    expect(summaryOf(r.stderr, 'control')).toMatchObject({ requested: 20, started: 20 });
  });

  it('live: a changed shape is re-planned from now with no burst; an unchanged shaped line keeps running', async () => {
    const server = await target();
    const home = await agentHome();
    const kept = `kept|http|60,600|none|url=${server.url}/kept|start=${fromNow(-1.5 * HOUR_MS)}|step=1h`;
    await home.writeConfig(`${kept}\nmoved|http|600|none|url=${server.url}/moved|start=${fromNow(HOUR_MS)}\n`);
    const run = spawnCli(['run', ...home.args, '--lifetime', '4', '--log-level', 'info']);
    expect(await waitFor(() => server.count('/kept') >= 10, 3_000)).toBe(true);
    const changedAt = server.hits.get('/kept')!.at(-1)!;
    await home.writeConfig(`${kept}\nmoved|http|600|none|url=${server.url}/moved|start=${fromNow(-HOUR_MS)}\n`);
    const r = await run.done;
    expect(r.code).toBe(0);
    // The unchanged line ran its 600/min for the whole 4 s window, never re-planned.
    expect(server.count('/kept')).toBe(40);
    expect(r.stderr).toMatch(/msg="test changed" test=moved/);
    expect(r.stderr).not.toMatch(/msg="test changed" test=kept/);
    // The moved start owes the rest of the window from the reload on, at 600/min, with no catch-up burst.
    const moved = server.hits.get('/moved') ?? [];
    expect(moved.length).toBeGreaterThan(0);
    expect(moved[0]).toBeGreaterThan(changedAt);
    expect(moved.length).toBeLessThanOrEqual(30);
    if (moved.length > 4) expect(percentile(moved.slice(1).map((t, i) => t - moved[i]!), 50)).toBeGreaterThan(70);
    expect(summaryOf(r.stderr, 'moved')).toMatchObject({ missed: 0, requested: moved.length });
  });
});
