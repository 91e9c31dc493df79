/**
 * A simulated fleet (issue 6 §2): ten real agents, each in its own network namespace and UTS namespace
 * (its own host name), all started by one cron-style minute against a target and a real etsy statsd in
 * a hub namespace (test/support/fleet.ts). Two real minutes back to back: the first with the per-host
 * phase on (the default), the second with `--phase off`.
 *
 * Every host runs the same tests file: five tests at 60/min each, so a 100 ms bucket of the minute
 * holds 5 executions on average (ten hosts × 300/min ÷ 600 buckets) — enough for "the busiest 100 ms
 * over the mean" to mean something — and with the phase off all 50 of a second land in one bucket: 10×.
 *
 * Every host also runs one stepped line (issue 12: `20,40,80` a minute, a step a minute from the
 * minute before the first), so the fleet's per-minute totals at the target follow hosts × step — 400
 * in the first minute, 800 in the second — with no extra time: it runs in the same two minutes.
 *
 * Checked per minute: the target counted exactly hosts × frequency; statsd's totals equal the target's;
 * with the phase on, each host's arrivals (catch-up included) sit on its phase-shifted grid and the
 * busiest 100 ms stays at most half of in-step firing; with the phase off, the fleet fires in step.
 * Root only (CI runs as root); elsewhere skipped with the reason in the title.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phaseFor } from '../../src/schedule/plan.js';
import { agentAddress, createFleet, fleetSkipReason, HUB_ADDRESS, removeStaleFleets, type Arrival, type Fleet, type FleetAgent } from '../support/fleet.js';

const HOSTS = 10;
/** Executions per minute of each test: one a second, so a test's phase spreads it over ten buckets. */
const FREQUENCY = 60;
const TESTS = 5;
const PERIOD_MS = 60_000 / FREQUENCY;
const BUCKET_MS = 100;
const BUCKETS = 60_000 / BUCKET_MS;
/**
 * With the phase on, the busiest 100 ms may hold at most half of what in-step firing puts there (10×
 * the mean). What the phases themselves allow is lower: catch-up doubles the fleet's rate while every
 * host catches up (2× by design), and 50 hash-derived phases are not perfectly even (≈2.8× for these
 * names); the rest is room for arrivals made late by ten agents starting on two shared cores.
 */
const SPREAD_BOUND = 5;
/**
 * The same for the ticks as planned (each arrival moved back to its tick, so CPU contention does not
 * count): 2× from catch-up, and the unevenness of 50 hashed phases (2.6× measured, ≈2.8× simulated
 * with planTicks for these names over ready times of 2–7 s).
 */
const PLANNED_BOUND = 3.5;
/** With the phase off, every host fires at the same instants: at least this many times the mean. */
const IN_STEP_RATIO = 5;
/** How late an arrival may be after its tick and still count as on time (timer, dispatch, veth). */
const ON_TIME_MS = 50;
/**
 * The phase-on minute's copies start this late, as a loaded host's cron does: each test then has
 * catch-up ticks to check. Started at the minute's turn, copies now ready within ~1 s (issue 10's
 * start-up work), and a third of the tests had none (17 of 50 in CI), which fails the check below.
 */
const ON_START_LATE_MS = 1_500;
/** An agent owns one minute and exits within 2 s of its end (flush deadline); the watchdog allows more. */
const AGENT_KILL_MS = 75_000;

/** The stepped line every host runs: one step a minute from the minute before the first. */
const STEPPED = 'fleet_steps';
const STEPS = [20, 40, 80];

const testNames = (run: 'on' | 'off') => Array.from({ length: TESTS }, (_, k) => `fleet_${run}${k + 1}`);

const skip = await fleetSkipReason();
if (skip) console.warn(`SKIPPED fleet test: ${skip}`);

/** What one minute of the fleet produced. */
interface Minute {
  run: 'on' | 'off';
  /** Wall-clock start of the minute, ms. */
  start: number;
  arrivals: Arrival[];
  agents: { host: string; code: number | null; stderr: string }[];
  /** statsd's totals for the minute's tests. */
  ok: number;
  failed: number;
  missed: number;
  /** The stepped line's arrivals at the target, and statsd's ok and missed for it. */
  stepped: { arrivals: number; ok: number; missed: number };
}

/** The busiest 100 ms over the mean 100 ms of the whole minute, catch-up included. */
function busiestRatio(m: Minute): { busiest: number; at: number; mean: number; ratio: number } {
  const b = new Array<number>(BUCKETS).fill(0);
  for (const a of m.arrivals) {
    const i = Math.floor((a.at - m.start) / BUCKET_MS);
    if (i >= 0 && i < BUCKETS) b[i]!++;
  }
  const busiest = Math.max(...b);
  const mean = m.arrivals.length / BUCKETS;
  return { busiest, at: b.indexOf(busiest) * BUCKET_MS, mean, ratio: busiest / mean };
}

/** How late an arrival is after the latest instant of `start + phase + k·period/2` before it, ms. */
function lateness(at: number, start: number, phase: number): number {
  const half = PERIOD_MS / 2;
  const d = (((at - start - phase) % half) + half) % half;
  // A fraction of a ms early is rounding between two processes' clocks, not an early tick.
  return d > half - 1 ? d - half : d;
}

/** Each (host, test)'s arrivals of a minute, with its phase and lateness. */
function byHostAndTest(m: Minute, hosts: readonly string[]) {
  return hosts.flatMap((host, i) =>
    testNames(m.run).map((test) => {
      const phase = phaseFor(host, test, PERIOD_MS);
      const times = m.arrivals
        .filter((a) => a.from === agentAddress(i) && a.path === `/${test}`)
        .map((a) => a.at - m.start)
        .sort((a, b) => a - b);
      return { host, test, times, late: times.map((t) => lateness(t, 0, phase)) };
    }),
  );
}

/** Each arrival moved back to the tick it was planned for (its host and test's grid instant before it). */
function plannedTicks(m: Minute, hosts: readonly string[]): Arrival[] {
  return m.arrivals.map((a) => {
    const host = hosts[hosts.findIndex((_, i) => agentAddress(i) === a.from)] ?? '';
    const phase = m.run === 'on' ? phaseFor(host, a.path.slice(1), PERIOD_MS) : 0;
    return { ...a, at: a.at - lateness(a.at, m.start, phase) };
  });
}

const TITLE = 'a simulated fleet of ten namespaced hosts, one cron minute each';

describe.skipIf(skip !== undefined)(skip ? `${TITLE} [skipped: ${skip}]` : TITLE, () => {
  let fleet: Fleet | undefined;
  let dir: string | undefined;
  const minutes: Partial<Record<'on' | 'off', Minute>> = {};

  beforeAll(async () => {
    await removeStaleFleets();
    dir = await mkdtemp(join(tmpdir(), 'canihaz-fleet-home-'));
    fleet = await createFleet({ hosts: HOSTS });
    const f = fleet;
    const settings = join(dir, 'canihaz.conf');
    await writeFile(settings, '# fleet test\n');
    // Cron: every host starts its copy as the minute turns (the first minute ON_START_LATE_MS late), two minutes in a row (the
    // second minute's copies start while the first's are flushing, as under cron).
    const first = Math.ceil(Date.now() / 60_000) * 60_000;
    const stepStart = new Date(first - 60_000).toISOString();
    for (const run of ['on', 'off'] as const) {
      const lines = testNames(run).map((t) => `${t}|http|${FREQUENCY}|statsd://${HUB_ADDRESS}:8125|url=http://${HUB_ADDRESS}/${t}\n`);
      lines.push(`${STEPPED}|http|${STEPS.join(',')}|statsd://${HUB_ADDRESS}:8125|url=http://${HUB_ADDRESS}/${STEPPED}|start=${stepStart}|step=1m|then=stop\n`);
      await writeFile(join(dir, `${run}.conf`), lines.join(''));
    }
    // Each host has its own lock directory (its own /run/canihaz); all read the same tests file.
    const args = (run: 'on' | 'off', host: string) => [
      ...['--config', join(dir!, `${run}.conf`), '--settings', settings],
      ...['--stop-file', join(dir!, 'stop'), '--lock-dir', join(dir!, host, 'lock')],
    ];

    await sleepUntil(first + ON_START_LATE_MS);
    const onAgents = f.startAgents((h) => args('on', h), { killAfterMs: AGENT_KILL_MS });
    await sleepUntil(first + 60_000 + 20);
    const offAgents = f.startAgents((h) => [...args('off', h), '--phase', 'off'], { killAfterMs: AGENT_KILL_MS });
    const onExits = await Promise.all(onAgents.map((a) => a.done));
    const offExits = await Promise.all(offAgents.map((a) => a.done));
    // Two more flushes: every metric sent before the agents exited has been aggregated.
    await f.settle(2);
    // statsd's counters are the totals of both minutes: the stepped line's are split by its arrivals' times.
    const steppedOk = f.counter(`canihaz.${STEPPED}.ok`);
    const steppedMissed = f.counter(`canihaz.${STEPPED}.missed`);

    const collect = (run: 'on' | 'off', start: number, agents: FleetAgent[], exits: (number | null)[]): Minute => {
      const names = testNames(run);
      const total = (what: string) => names.reduce((sum, t) => sum + f.counter(`canihaz.${t}.${what}`), 0);
      return {
        run,
        start,
        arrivals: f.arrivals.filter((a) => names.includes(a.path.slice(1))),
        agents: agents.map((a, i) => ({ host: a.host, code: exits[i]!, stderr: a.stderr })),
        ok: total('ok'),
        failed: total('failed'),
        missed: total('missed'),
        stepped: {
          arrivals: f.arrivals.filter((a) => a.path === `/${STEPPED}` && a.at >= start && a.at < start + 60_000).length,
          ok: steppedOk,
          missed: steppedMissed,
        },
      };
    };
    minutes.on = collect('on', first, onAgents, onExits);
    minutes.off = collect('off', first + 60_000, offAgents, offExits);
    for (const m of [minutes.on, minutes.off]) {
      const r = busiestRatio(m);
      const planned = busiestRatio({ ...m, arrivals: plannedTicks(m, f.hosts) });
      const firsts = byHostAndTest(m, f.hosts).map((p) => p.times[0] ?? NaN);
      console.log(
        `fleet phase ${m.run}: ${m.arrivals.length} arrivals (expected ${HOSTS * TESTS * FREQUENCY}); statsd ok=${m.ok} failed=${m.failed} missed=${m.missed}; ` +
          `busiest 100 ms ${r.busiest} at ${r.at} ms / mean ${r.mean} = ${r.ratio.toFixed(2)}x (as planned, before lateness: ${planned.ratio.toFixed(2)}x); ` +
          `first arrivals ${Math.min(...firsts).toFixed(0)}-${Math.max(...firsts).toFixed(0)} ms into the minute; ` +
          `stepped line: ${m.stepped.arrivals} arrivals`,
      );
    }
  }, 250_000);

  afterAll(async () => {
    await fleet?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('runs every agent to exit 0 with no missed tick, phase on and off', () => {
    for (const m of [minutes.on!, minutes.off!]) {
      expect(m.agents.filter((a) => a.code !== 0).map((a) => `${m.run} ${a.host}: exit ${a.code}: ${a.stderr}`)).toEqual([]);
      expect(m.missed).toBe(0);
    }
  });

  it('delivers exactly hosts × frequency executions of each test, phase on and off', () => {
    for (const m of [minutes.on!, minutes.off!]) {
      expect(m.arrivals).toHaveLength(HOSTS * TESTS * FREQUENCY);
      const counts = byHostAndTest(m, fleet!.hosts).filter((p) => p.times.length !== FREQUENCY);
      expect(counts.map((p) => `${p.host} ${p.test}: ${p.times.length}`)).toEqual([]);
    }
  });

  it("follows a stepped line on every host: each minute's total at the target is hosts × that minute's step", () => {
    // Minute 1 is the line's second step (40/min), minute 2 its third (80/min).
    expect([minutes.on!.stepped.arrivals, minutes.off!.stepped.arrivals]).toEqual([HOSTS * STEPS[1]!, HOSTS * STEPS[2]!]);
    expect(minutes.on!.stepped).toMatchObject({ ok: HOSTS * (STEPS[1]! + STEPS[2]!), missed: 0 });
  });

  it("sums in statsd to the target's totals", () => {
    for (const m of [minutes.on!, minutes.off!]) {
      expect({ run: m.run, ok: m.ok, failed: m.failed }).toEqual({ run: m.run, ok: m.arrivals.length, failed: 0 });
    }
  });

  it('keeps each host on its own phase from its first catch-up tick (catch-up was anchored at the ready time)', () => {
    // Anchored at the ready time, a host's catch-up ticks would all sit one fixed offset, uniform in
    // [0, period/2), off its phase grid: each (host, test) would pass the catch-up check below with
    // probability 1/2, all of them with less than 2^-40 (simulated with the old plan: 25 of 50 fail).
    // On its grid, a tick is late only by CPU contention, so at least one of its catch-up ticks
    // arrives within a quarter period (the latest measured: 95 ms, on a machine at load average 22).
    const problems: string[] = [];
    let caughtUp = 0;
    for (const p of byHostAndTest(minutes.on!, fleet!.hosts)) {
      // Catch-up meets the nominal grid at about `2·ready − phase`: the ticks before `2·ready − period`
      // are catch-up ticks, whatever the phase.
      const catchUp = p.late.filter((_, i) => p.times[i]! < 2 * p.times[0]! - PERIOD_MS);
      if (catchUp.length > 0) caughtUp++;
      const earliest = Math.min(...catchUp);
      if (catchUp.length > 0 && !(earliest <= PERIOD_MS / 4)) problems.push(`${p.host} ${p.test}: catch-up ticks ${earliest.toFixed(0)} ms or more off its grid`);
      const median = [...p.late].sort((a, b) => a - b)[Math.floor(p.late.length / 2)]!;
      if (!(median <= ON_TIME_MS)) problems.push(`${p.host} ${p.test}: median ${median.toFixed(0)} ms off its grid`);
      if (p.late.some((l) => l < -1)) problems.push(`${p.host} ${p.test}: an arrival before its tick`);
    }
    expect(problems).toEqual([]);
    // Ten agents started ON_START_LATE_MS into the minute on two cores are ready past 1.5 s, so every
    // test has catch-up ticks (any whose first tick is past 1 s). A fleet ready so early that most had none leaves
    // nothing to judge: that fails too, rather than pass unchecked.
    expect(caughtUp, 'tests that had catch-up ticks to check').toBeGreaterThanOrEqual(HOSTS * TESTS * 0.5);
  });

  it('spreads the fleet by phase: the busiest 100 ms, catch-up included, is at most half of in-step firing', () => {
    const { ratio } = busiestRatio(minutes.on!);
    expect(ratio).toBeLessThanOrEqual(SPREAD_BOUND);
    // The ticks the hosts planned (each arrival moved back to its tick) are spread as the phases say.
    const planned = busiestRatio({ ...minutes.on!, arrivals: plannedTicks(minutes.on!, fleet!.hosts) });
    expect(planned.ratio).toBeLessThanOrEqual(PLANNED_BOUND);
  });

  it('fires in step with phase = off: the busiest 100 ms is many times the mean', () => {
    const { ratio } = busiestRatio(minutes.off!);
    expect(ratio).toBeGreaterThanOrEqual(IN_STEP_RATIO);
    // In step, every host's arrivals sit on the unshifted grid.
    const medians = byHostAndTest(minutes.off!, fleet!.hosts).map((p) => {
      const late = p.times.map((t) => lateness(t, 0, 0)).sort((a, b) => a - b);
      return late[Math.floor(late.length / 2)]!;
    });
    expect(medians.filter((l) => l > ON_TIME_MS)).toEqual([]);
  });
});

function sleepUntil(wallMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, wallMs - Date.now())));
}
