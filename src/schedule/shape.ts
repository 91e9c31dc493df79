/**
 * Load shapes (issue 12): a test's rate as a pure function of UTC time — a constant rate, steps or a
 * ramp, with an optional start and end — and the even tick times it owes any interval.
 *
 * Every tick comes from one integral. `loadAt(t)` is the load owed from the shape's anchor (its
 * `start`, or the UTC epoch when it has none) to t, in ticks: the integral of the per-minute rate
 * over minutes. With even arrivals, absolute tick n is at `timeOf(n + phase)`, the first instant
 * after which more than `n + phase` ticks are owed; `phase` in [0, 1) is the host's and test's
 * fraction of a tick (plan.ts's `phaseMs / periodMs`). So the ticks of an interval are the lattice
 * points its integral crosses, the count of a window is a difference of one function of its edges
 * (split a window anywhere and the parts add up exactly), and a constant integer rate gives exactly
 * that many ticks in every minute, placed as plan.ts places them. The integral is piecewise linear
 * or quadratic, so both it and its inverse are closed forms (no stepping, no accumulation).
 */
import { MINUTE_MS } from './plan.js';

/** What a shape does after its last step or the end of its ramp. */
export type ShapeThen = 'hold' | 'stop' | 'repeat';

/** How a shape's rate (executions per minute) changes from its start. */
export type ShapeRates =
  | { kind: 'constant'; perMinute: number }
  /** Each rate holds for `stepMs`, in order; then `hold` the last, `stop`, or `repeat` (`cycles` times in all, or until `end`). */
  | { kind: 'steps'; perMinute: readonly number[]; stepMs: number; then: ShapeThen; cycles?: number }
  /** Linear from `from` to `to` over `rampMs`; then `hold` `to`, `stop`, or `repeat` (a sawtooth). */
  | { kind: 'ramp'; from: number; to: number; rampMs: number; then: ShapeThen; cycles?: number };

/** A test's load over time: plain data, as the config parses it (config/shape-params.ts). */
export interface LoadShape {
  /** UTC epoch ms; nothing is owed before it. Steps and ramps run from here. */
  start?: number;
  /** UTC epoch ms; nothing is owed at or after it. */
  end?: number;
  rates: ShapeRates;
  /** `even`: ticks on the integral's lattice; `poisson`: exponential gaps (shape-poisson.ts). */
  arrivals: 'even' | 'poisson';
}

/** An interval of UTC epoch ms, [from, to). */
export interface TimeWindow {
  from: number;
  to: number;
}

/** One piece of a cycle: the rate goes linearly from r0 to r1 (per minute) over [t0, t0 + ms). */
interface Segment {
  t0: number;
  ms: number;
  r0: number;
  r1: number;
  /** Load owed from the cycle's start to t0, in ticks. */
  l0: number;
  /** Load owed over the segment, in ticks. */
  dl: number;
}

/** A shape compiled for the closed forms: `cycles` repetitions of `segments`, then `tail` per minute, cut at `end`. */
interface Curve {
  readonly started: boolean;
  readonly anchor: number;
  readonly end: number;
  readonly segments: readonly Segment[];
  readonly cycleMs: number;
  readonly cycleLoad: number;
  readonly cycles: number;
  /** cycles × cycleMs and cycles × cycleLoad (0 when there is no cycle or it owes nothing). */
  readonly cyclesMs: number;
  readonly cyclesLoad: number;
  readonly tail: number;
}

/** Load owed over the first u ms of a segment, in ticks. */
const partial = (s: Segment, u: number) => (s.r0 * u + ((s.r1 - s.r0) * u * u) / (2 * s.ms)) / MINUTE_MS;

function compile(shape: LoadShape): Curve {
  const r = shape.rates;
  const ms = r.kind === 'steps' ? r.stepMs : r.kind === 'ramp' ? r.rampMs : 0;
  // The config never gives a step or ramp of no length; should one come, it owes nothing (not NaN).
  const rates = r.kind === 'constant' || !(ms > 0 && ms < Infinity) ? [] : r.kind === 'steps' ? r.perMinute.map((p) => [p, p] as const) : [[r.from, r.to] as const];
  const segments: Segment[] = [];
  let l0 = 0;
  rates.forEach(([r0, r1], i) => {
    const s = { t0: i * ms, ms, r0, r1, l0, dl: 0 };
    s.dl = partial(s, ms);
    segments.push(s);
    l0 += s.dl;
  });
  const last = rates.length > 0 ? rates[rates.length - 1]![1] : r.kind === 'constant' ? r.perMinute : 0;
  const then = r.kind === 'constant' ? 'hold' : r.then;
  const cycles = segments.length === 0 ? 0 : then === 'repeat' ? (r.kind !== 'constant' && r.cycles) || Infinity : 1;
  const cycleMs = segments.length * ms;
  return {
    started: shape.start !== undefined,
    anchor: shape.start ?? 0,
    end: shape.end ?? Infinity,
    segments,
    cycleMs,
    cycleLoad: l0,
    cycles,
    cyclesMs: cycles === 0 ? 0 : cycles * cycleMs,
    cyclesLoad: cycles === 0 || l0 === 0 ? 0 : cycles * l0,
    tail: then === 'hold' ? last : 0,
  };
}

const curves = new WeakMap<LoadShape, Curve>();
/** The shape's curve, compiled once per shape object (shapes are treated as immutable). */
function curveOf(shape: LoadShape): Curve {
  let c = curves.get(shape);
  if (!c) curves.set(shape, (c = compile(shape)));
  return c;
}

/** The index of the last segment with `key(s) <= v` (0 if none). */
function lastAtOrBelow(segments: readonly Segment[], v: number, key: (s: Segment) => number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (key(segments[mid]!) <= v) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The offset into the cycle and the number of whole cycles before u ms from the anchor (u < cyclesMs). */
function inCycle(c: Curve, u: number): { q: number; v: number } {
  const q = Math.floor(u / c.cycleMs);
  return { q, v: Math.min(Math.max(u - q * c.cycleMs, 0), c.cycleMs) };
}

/** The rate, in executions per minute, at UTC epoch ms t. */
export function rateAt(shape: LoadShape, t: number): number {
  const c = curveOf(shape);
  if ((c.started && t < c.anchor) || t >= c.end) return 0;
  const u = t - c.anchor;
  if (u >= c.cyclesMs || c.segments.length === 0) return c.tail;
  const { v } = inCycle(c, u);
  const s = c.segments[lastAtOrBelow(c.segments, v, (x) => x.t0)]!;
  return s.r0 + ((s.r1 - s.r0) * (v - s.t0)) / s.ms;
}

/** The load owed from the shape's anchor to UTC epoch ms t, in ticks (the integral of the rate). */
export function loadAt(shape: LoadShape, t: number): number {
  const c = curveOf(shape);
  const u = Math.min(t, c.end) - c.anchor;
  if (!(u > 0)) return 0;
  if (u >= c.cyclesMs) return c.cyclesLoad + (c.tail * (u - c.cyclesMs)) / MINUTE_MS;
  const { q, v } = inCycle(c, u);
  const s = c.segments[lastAtOrBelow(c.segments, v, (x) => x.t0)]!;
  return q * c.cycleLoad + s.l0 + partial(s, Math.min(v - s.t0, s.ms));
}

/**
 * The first UTC instant after which more than `x` ticks are owed (the inverse of `loadAt`, taken
 * from the right so a pause never holds a tick); Infinity when that is at or after the end, or never.
 */
export function timeOf(shape: LoadShape, x: number): number {
  const c = curveOf(shape);
  let t: number;
  if (x < c.cyclesLoad) {
    let q = Math.floor(x / c.cycleLoad);
    let y = x - q * c.cycleLoad;
    // Float noise at a cycle's edge: the remainder belongs to the next cycle's start.
    if (y >= c.cycleLoad) {
      q++;
      y = 0;
    }
    t = c.anchor + q * c.cycleMs + cycleTime(c, Math.max(y, 0));
  } else {
    if (!(c.tail > 0)) return Infinity;
    t = c.anchor + c.cyclesMs + ((x - c.cyclesLoad) * MINUTE_MS) / c.tail;
  }
  return t < c.end ? t : Infinity;
}

/** Where, from the cycle's start, more than y ticks are owed (0 <= y < cycleLoad). */
function cycleTime(c: Curve, y: number): number {
  // The segment that owes past y: the last whose start owes at most y, skipping ones that owe nothing.
  let i = lastAtOrBelow(c.segments, y, (s) => s.l0);
  while (i < c.segments.length - 1 && c.segments[i]!.l0 + c.segments[i]!.dl <= y) i++;
  const s = c.segments[i]!;
  if (s.l0 + s.dl <= y) return c.cycleMs;
  // Solve partial(s, u) = y - l0: a u² + b u = k; written so neither a = 0 (a step) nor b = 0 (a
  // ramp from zero) divides by zero, and no difference of near-equal terms loses the digits.
  const k = (y - s.l0) * MINUTE_MS;
  const a = (s.r1 - s.r0) / (2 * s.ms);
  const b = s.r0;
  const root = b + Math.sqrt(Math.max(b * b + 4 * a * k, 0));
  const u = root > 0 ? (2 * k) / root : 0;
  return s.t0 + Math.min(Math.max(u, 0), s.ms);
}

/** Guard steps around a closed-form index: float noise moves it by one at most; bounded anyway. */
const GUARD = 8;

/** How many absolute even ticks (n >= 0, at `timeOf(n + phase)`) fall before UTC epoch ms t. */
export function ticksBefore(shape: LoadShape, phase: number, t: number): number {
  let n = Math.max(0, Math.ceil(loadAt(shape, t) - phase));
  for (let g = 0; g < GUARD && n > 0 && timeOf(shape, n - 1 + phase) >= t; g++) n--;
  for (let g = 0; g < GUARD && timeOf(shape, n + phase) < t; g++) n++;
  return n;
}

/** Even ticks of one window: absolute indices [first, first + count), tick i at `at(i)` (UTC epoch ms). */
export interface EvenTicks {
  readonly first: number;
  readonly count: number;
  at(i: number): number;
}

/** The even ticks a shape owes [from, to), lazily: the count is O(1), each time O(log segments). */
export function evenTicks(shape: LoadShape, window: TimeWindow, phase: number): EvenTicks {
  const first = ticksBefore(shape, phase, window.from);
  const count = Math.max(0, ticksBefore(shape, phase, window.to) - first);
  return { first, count, at: (i) => timeOf(shape, first + i + phase) };
}

/** The highest rate the shape ever asks for, per minute (what `max_frequency` and `max_total_rate` check). */
export function peakRate(shape: LoadShape): number {
  const r = shape.rates;
  if (r.kind === 'constant') return r.perMinute;
  if (r.kind === 'ramp') return Math.max(r.from, r.to);
  return r.perMinute.reduce((a, b) => Math.max(a, b), 0);
}
