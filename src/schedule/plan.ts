import { createHash } from 'node:crypto';

/** How long frequencies are counted over: they are always "per minute". */
export const MINUTE_MS = 60_000;

/** Catch-up runs at no more than this many times the nominal rate. */
export const CATCH_UP_RATE = 2;

/** The inputs of a tick plan; every time is on the same monotonic clock, in ms. */
export interface PlanInput {
  /** The window the run owns: [windowStart, windowEnd). */
  windowStart: number;
  windowEnd: number;
  /** Executions per minute. */
  frequency: number;
  /** This host's and test's offset of the first tick, in [0, period). */
  phaseMs: number;
  /** When the scheduler is ready to fire (start-up done, or the moment a test was added/changed). */
  from: number;
  /**
   * True for tests configured before the window began: ticks before `from` are still delivered,
   * spread at up to 2x the nominal rate; false for a test that appears mid-window: it gets only its
   * share of the rest of the window, with no burst.
   */
  catchUp: boolean;
}

/** A pure tick plan: which instants to fire at, and what could not fit. */
export interface Plan {
  /** Nominal period, ms (60000 / frequency). */
  readonly periodMs: number;
  /** Ticks this plan owes the window (delivered + missed). */
  readonly requested: number;
  /** Ticks this plan will fire. */
  readonly count: number;
  /** Ticks that could not fit in the window after a late start. */
  readonly missed: number;
  /** The instant of tick `i` (0 ≤ i < count), ascending; computed from the start, never accumulated. */
  tickAt(i: number): number;
}

/** Instants within this of the window end count as at the end (float noise, not a real tick). */
const EPSILON_MS = 1e-6;

const EMPTY: Plan = { periodMs: Infinity, requested: 0, count: 0, missed: 0, tickAt: () => NaN };

/**
 * Plans a test's ticks in a window. Nominal tick j is at `windowStart + phase + j * period`. With
 * catch-up, ticks that were due before `from` go out at twice the rate on the phase-shifted half
 * grid `windowStart + phase + k * period / 2` (from its first instant at or after `from`) until the
 * plan meets the nominal schedule, which is every other instant of that grid; ticks that would land
 * at or past the window's end are `missed`.
 */
export function planTicks(input: PlanInput): Plan {
  const { windowStart, windowEnd, frequency, from, catchUp } = input;
  if (!(frequency > 0) || !(windowEnd > windowStart)) return EMPTY;
  const periodMs = MINUTE_MS / frequency;
  const phaseMs = Math.min(Math.max(input.phaseMs, 0), periodMs * (1 - 1e-9));
  const base = windowStart + phaseMs;
  // Nominal ticks in the window: j with base + j*period < windowEnd.
  const nominal = (j: number) => base + j * periodMs;
  let nominalCount = Math.max(0, Math.ceil((windowEnd - base) / periodMs));
  // Float noise must not add a tick at the very end (7/min: 7 × 8571.43 ms lands on 60000.000000004).
  while (nominalCount > 0 && nominal(nominalCount - 1) >= windowEnd - EPSILON_MS) nominalCount--;

  if (!catchUp) {
    const first = from <= base ? 0 : Math.ceil((from - base) / periodMs);
    const count = Math.max(0, nominalCount - first);
    return { periodMs, requested: count, count, missed: 0, tickAt: (i) => nominal(first + i) };
  }

  // Catch-up keeps to this host's phase: a grid anchored at its own ready time would put every host
  // of a fleet started by the same cron minute in step until each met its nominal grid.
  const catchUpGap = periodMs / CATCH_UP_RATE;
  const halfGrid = (k: number) => base + k * catchUpGap;
  // The first half-grid instant at or after `from` (nominal(j) is halfGrid(2j)).
  let k0 = from <= base ? 0 : Math.ceil((from - base) / catchUpGap);
  while (halfGrid(k0) < from) k0++;
  // Tick j is at halfGrid(max(2j, k0 + j)): the next free half-grid instant until it meets nominal.
  const tickAt = (j: number) => (k0 + j > 2 * j ? halfGrid(k0 + j) : nominal(j));
  // tickAt is increasing in j, so the ticks that fit are a prefix: find its length.
  let count: number;
  if (k0 === 0) {
    count = nominalCount;
  } else {
    const byCatchUp = Math.max(0, Math.ceil((windowEnd - base) / catchUpGap) - k0);
    count = Math.min(nominalCount, byCatchUp);
    // Guard the float edges of the closed-form count.
    while (count > 0 && tickAt(count - 1) >= windowEnd) count--;
    while (count < nominalCount && tickAt(count) < windowEnd) count++;
  }
  return { periodMs, requested: nominalCount, count, missed: nominalCount - count, tickAt };
}

/**
 * A deterministic offset in [0, periodMs) for this host and test, so a fleet does not fire in step
 * while each host keeps the same phase minute after minute.
 */
export function phaseFor(hostname: string, testName: string, periodMs: number): number {
  if (!Number.isFinite(periodMs) || periodMs <= 0) return 0;
  const digest = createHash('sha256').update(`${hostname}\0${testName}`).digest();
  const fraction = digest.readUInt32BE(0) / 2 ** 32;
  return fraction * periodMs;
}

/** The window a run owns: the wall-clock minute it started in, or [start, start + lifetime). */
export function windowFor(wallNowMs: number, lifetimeSeconds?: number): { startWall: number; endWall: number } {
  if (lifetimeSeconds !== undefined) return { startWall: wallNowMs, endWall: wallNowMs + lifetimeSeconds * 1000 };
  const startWall = Math.floor(wallNowMs / MINUTE_MS) * MINUTE_MS;
  return { startWall, endWall: startWall + MINUTE_MS };
}
