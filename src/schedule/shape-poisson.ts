/**
 * Poisson arrivals for a load shape (issue 12): exponential gaps with mean 60/f s, reproducible from
 * the config alone. Each UTC minute draws from its own generator, seeded by FNV-1a of (host, test,
 * minute) through mulberry32, so the same host, test and minute give the same times on every run,
 * and two hosts of a fleet differ.
 *
 * A time-varying rate uses time rescaling, not thinning: a unit-rate Poisson process is drawn on the
 * load axis (the integral of the rate, shape.ts's `loadAt`, in ticks) and each point is mapped back
 * to time through the same closed-form inverse the even ticks use (`timeOf`). That is exact for any
 * shape, draws one number per arrival (thinning draws one per candidate at the peak rate), and a
 * pause or the time before `start` and after `end` owes no load, so it gets no arrival. Starting
 * afresh at every minute is still one Poisson process: its gaps are memoryless.
 */
import { MINUTE_MS } from './plan.js';
import { loadAt, timeOf, type LoadShape, type TimeWindow } from './shape.js';

const UTF8 = new TextEncoder();

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of UTF8.encode(text)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

/** mulberry32 (Tommy Ettinger): a 32-bit generator of uniform numbers in [0, 1), 2^32 apart. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The seed of one host's, test's and UTC minute's arrivals. */
export function arrivalSeed(host: string, test: string, minute: number): number {
  return fnv1a32(`${host}\0${test}\0${minute}`);
}

/** Who draws: the seed's host and test. */
export interface ArrivalKey {
  host: string;
  test: string;
}

/** Poisson arrivals of one window: UTC epoch ms, ascending, and where each sits on the load axis. */
export interface PoissonTicks {
  readonly times: Float64Array;
  readonly loads: Float64Array;
}

/** No minute may draw more than this many times its expected count plus a margin (a bound on the loop, never reached). */
const DRAW_BOUND = (expected: number) => Math.ceil(expected * 4) + 1_000;

/** The arrivals of UTC minute `minute` (its index since the epoch), as [time, load] pairs pushed onto `out`. */
function minuteArrivals(shape: LoadShape, key: ArrivalKey, minute: number, out: { times: number[]; loads: number[] }): void {
  const m0 = minute * MINUTE_MS;
  const m1 = m0 + MINUTE_MS;
  const la = loadAt(shape, m0);
  const lb = loadAt(shape, m1);
  if (!(lb > la)) return;
  const random = mulberry32(arrivalSeed(key.host, key.test, minute));
  const bound = DRAW_BOUND(lb - la);
  let x = la;
  for (let i = 0; i < bound; i++) {
    x -= Math.log(1 - random());
    if (x >= lb) break;
    const t = timeOf(shape, x);
    // Float noise at the minute's edges: an arrival belongs to the minute that drew it, or to none.
    if (t >= m0 && t < m1) {
      out.times.push(t);
      out.loads.push(x);
    }
  }
}

/**
 * The Poisson arrivals a shape owes [from, to): every arrival of every UTC minute the window
 * touches that falls inside it, so a window split anywhere gives the same arrivals in its parts.
 */
export function poissonTicks(shape: LoadShape, window: TimeWindow, key: ArrivalKey): PoissonTicks {
  const out = { times: [] as number[], loads: [] as number[] };
  if (!(window.to > window.from)) return { times: new Float64Array(0), loads: new Float64Array(0) };
  const first = Math.floor(window.from / MINUTE_MS);
  const last = Math.ceil(window.to / MINUTE_MS);
  for (let m = first; m < last; m++) minuteArrivals(shape, key, m, out);
  let lo = 0;
  while (lo < out.times.length && out.times[lo]! < window.from) lo++;
  let hi = out.times.length;
  while (hi > lo && out.times[hi - 1]! >= window.to) hi--;
  return { times: Float64Array.from(out.times.slice(lo, hi)), loads: Float64Array.from(out.loads.slice(lo, hi)) };
}
