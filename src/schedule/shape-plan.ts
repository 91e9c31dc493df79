/**
 * A shaped test's tick plan for one window (issue 12): the Plan of plan.ts, so the runner needs no
 * change, with the ticks a load shape owes the window (shape.ts, shape-poisson.ts) instead of a
 * flat grid. Late starts keep plan.ts's rules: with catch-up, what was owed before `from` goes out at
 * twice the shape's rate until it meets the shape's own schedule, and what cannot fit is `missed`;
 * without, only the ticks from `from` on are owed.
 */
import type { Plan } from './plan.js';
import { CATCH_UP_RATE, MINUTE_MS } from './plan.js';
import { poissonTicks, type ArrivalKey } from './shape-poisson.js';
import { evenTicks, loadAt, peakRate, ticksBefore, timeOf, type LoadShape, type TimeWindow } from './shape.js';

/** The inputs of a shaped plan: the window and `from` on the monotonic clock, as plan.ts's PlanInput. */
export interface ShapePlanInput {
  /** The window the run owns: [windowStart, windowEnd), monotonic ms. */
  windowStart: number;
  windowEnd: number;
  /** When the scheduler is ready to fire, monotonic ms. */
  from: number;
  /** As PlanInput's: deliver ticks owed before `from` (the config read at start-up) or not (a test added later). */
  catchUp: boolean;
  /** Wall-clock epoch ms minus monotonic ms, as the scheduler converted its window. */
  wallOffsetMs: number;
  shape: LoadShape;
  /** This host's and test's fraction of a tick, in [0, 1): `phaseFor(host, test, 1)`; 0 puts hosts in step. */
  phase: number;
  /** Seeds Poisson arrivals; ignored for even ones. */
  key: ArrivalKey;
}

/**
 * The tick times (UTC epoch ms, ascending) a shape owes [from, to) by its arrivals, even or Poisson:
 * what a plan of that window made on time fires, and its `requested`. For tests and `check`; a plan
 * reads the same ticks lazily.
 */
export function ticksIn(shape: LoadShape, window: TimeWindow, opts: { phase: number; key: ArrivalKey }): number[] {
  if (shape.arrivals === 'poisson') return Array.from(poissonTicks(shape, window, opts.key).times);
  const even = evenTicks(shape, window, opts.phase);
  return Array.from({ length: even.count }, (_, i) => even.at(i));
}

const EMPTY: Plan = { periodMs: Infinity, requested: 0, count: 0, missed: 0, tickAt: () => NaN };

/** The length of the prefix [0, n) of an ascending sequence that is below `limit`, by bisection. */
function prefixBelow(n: number, at: (i: number) => number, limit: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Plans a shaped test's ticks in a window. Even arrivals: nominal tick n is at the instant the
 * shape's integral reaches n + phase (shape.ts); catch-up runs on the half grid, the instants it
 * reaches phase + k/2, from the first at or after `from` — plan.ts's rule, on the load axis, so a
 * constant rate plans as plan.ts does. Poisson arrivals: the arrivals of the window (their load
 * values x_j); catch-up puts arrival j at load `load(from) + (x_j − load(windowStart)) / 2` until
 * that is past x_j: the same arrivals at twice the rate, random per host, so a fleet ready together
 * does not fire in step. Ticks at or past the window's end (or the shape's) are `missed`.
 */
export function planShape(input: ShapePlanInput): Plan {
  const { shape, phase, catchUp, wallOffsetMs: off } = input;
  if (!(input.windowEnd > input.windowStart)) return EMPTY;
  const wall = { from: input.windowStart + off, to: input.windowEnd + off };
  const from = Math.max(input.from, input.windowStart) + off;
  const peak = peakRate(shape);
  const periodMs = peak > 0 ? MINUTE_MS / peak : Infinity;
  const toMono = (t: number) => t - off;

  if (shape.arrivals === 'poisson') {
    const { times, loads } = poissonTicks(shape, wall, input.key);
    if (!catchUp) {
      const first = prefixBelow(times.length, (i) => times[i]!, from);
      const count = times.length - first;
      return { periodMs, requested: count, count, missed: 0, tickAt: (i) => toMono(times[first + i]!) };
    }
    const loadFrom = loadAt(shape, from);
    const loadStart = loadAt(shape, wall.from);
    const tickWall = (j: number) => {
      const behind = loadFrom + (loads[j]! - loadStart) / CATCH_UP_RATE;
      return behind > loads[j]! ? timeOf(shape, behind) : times[j]!;
    };
    const count = prefixBelow(times.length, tickWall, wall.to);
    return { periodMs, requested: times.length, count, missed: times.length - count, tickAt: (j) => toMono(tickWall(j)) };
  }

  const nominal = evenTicks(shape, wall, phase);
  if (!catchUp) {
    const first = Math.max(nominal.first, ticksBefore(shape, phase, from));
    const count = Math.max(0, nominal.first + nominal.count - first);
    return { periodMs, requested: count, count, missed: 0, tickAt: (i) => toMono(timeOf(shape, first + i + phase)) };
  }
  // The half grid: instant k is where the integral reaches phase + k/2; nominal tick n is instant 2n.
  const half = (k: number) => timeOf(shape, phase + k / CATCH_UP_RATE);
  let k0 = Math.max(0, Math.ceil(CATCH_UP_RATE * (loadAt(shape, from) - phase)));
  for (let g = 0; g < 8 && k0 > 0 && half(k0 - 1) >= from; g++) k0--;
  for (let g = 0; g < 8 && half(k0) < from; g++) k0++;
  const n0 = nominal.first;
  // Tick j is the next free half-grid instant until that meets nominal tick n0 + j.
  const tickWall = (j: number) => half(Math.max(CATCH_UP_RATE * (n0 + j), k0 + j));
  const count = prefixBelow(nominal.count, tickWall, wall.to);
  return { periodMs, requested: nominal.count, count, missed: nominal.count - count, tickAt: (j) => toMono(tickWall(j)) };
}
