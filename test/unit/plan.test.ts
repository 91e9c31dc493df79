import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/settings-table.js';
import { phaseFor, planTicks, windowFor, type PlanInput } from '../../src/schedule/plan.js';

/** The settings table's default `max_frequency`: the highest rate a test may ask for unless raised. */
const MAX_FREQUENCY = Number(SETTINGS.max_frequency.default);

const W = { windowStart: 0, windowEnd: 60_000 };
const ticks = (input: PlanInput) => {
  const p = planTicks(input);
  return Array.from({ length: p.count }, (_, i) => p.tickAt(i));
};

describe('planTicks', () => {
  it.each([
    // frequency, phase, from, catchUp → count, missed, requested
    { f: 60, phase: 0, from: 0, catchUp: true, count: 60, missed: 0, requested: 60 },
    { f: 60, phase: 999, from: 0, catchUp: true, count: 60, missed: 0, requested: 60 },
    { f: 1, phase: 30_000, from: 0, catchUp: true, count: 1, missed: 0, requested: 1 },
    { f: 0, phase: 0, from: 0, catchUp: true, count: 0, missed: 0, requested: 0 },
    { f: 60_000, phase: 0.5, from: 0, catchUp: true, count: 60_000, missed: 0, requested: 60_000 },
    // Late by 30 s: 30 ticks behind, 30 s left at 2x = 60 ticks of room: all 60 delivered.
    { f: 60, phase: 0, from: 30_000, catchUp: true, count: 60, missed: 0, requested: 60 },
    // Late by 45 s: 15 s left at 2/s = 30 ticks; 30 missed.
    { f: 60, phase: 0, from: 45_000, catchUp: true, count: 30, missed: 30, requested: 60 },
    // Same lateness, no catch-up (a test added mid-window): only its share of the rest.
    { f: 60, phase: 0, from: 45_000, catchUp: false, count: 15, missed: 0, requested: 15 },
    { f: 60, phase: 500, from: 45_000, catchUp: false, count: 15, missed: 0, requested: 15 },
    { f: 60, phase: 0, from: 60_000, catchUp: false, count: 0, missed: 0, requested: 0 },
    // Ready at the last catch-up instant of the window: one tick still fits.
    { f: 60, phase: 0, from: 59_500, catchUp: true, count: 1, missed: 59, requested: 60 },
    // Ready after it: catch-up keeps to the phase's half grid, so nothing fits in the last 1 ms.
    { f: 60, phase: 0, from: 59_999, catchUp: true, count: 0, missed: 60, requested: 60 },
    // Late by 45.2 s with phase 300: half-grid instants 45.3, 45.8, … 59.8 s: 30 fit.
    { f: 60, phase: 300, from: 45_200, catchUp: true, count: 30, missed: 30, requested: 60 },
  ])('f=$f phase=$phase from=$from catchUp=$catchUp → $count ticks, $missed missed', ({ f, phase, from, catchUp, count, missed, requested }) => {
    const p = planTicks({ ...W, frequency: f, phaseMs: phase, from, catchUp });
    expect({ count: p.count, missed: p.missed, requested: p.requested }).toEqual({ count, missed, requested });
  });

  it('spaces ticks exactly 60/f apart from the phase, computed from the start (no drift)', () => {
    const t = ticks({ ...W, frequency: 1200, phaseMs: 17, from: 0, catchUp: true });
    expect(t).toHaveLength(1200);
    expect(t[0]).toBe(17);
    expect(t[1199]).toBeCloseTo(17 + 1199 * 50, 9);
    for (let i = 1; i < t.length; i++) expect(t[i]! - t[i - 1]!).toBeCloseTo(50, 9);
  });

  it('catches up at no more than twice the nominal rate, then joins the nominal schedule', () => {
    const t = ticks({ ...W, frequency: 60, phaseMs: 0, from: 10_000, catchUp: true });
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    expect(t[0]).toBe(10_000);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500 - 1e-9);
    // 10 ticks behind: at 2x the schedule meets nominal after 20 ticks (at 20 s).
    expect(t[19]).toBe(19_500);
    expect(t[20]).toBe(20_000);
    expect(t[59]).toBe(59_000);
  });

  it('keeps catch-up on the phase: two hosts ready at the same late instant fire at distinct instants', () => {
    // Regression: catch-up was anchored at the ready time (`from + j·period/2`), so hosts started by
    // the same cron minute fired in step until each met its phase grid.
    const a = ticks({ ...W, frequency: 60, phaseMs: 130, from: 2_600, catchUp: true });
    const b = ticks({ ...W, frequency: 60, phaseMs: 720, from: 2_600, catchUp: true });
    expect(a.slice(0, 4)).toEqual([2_630, 3_130, 3_630, 4_130]);
    expect(b.slice(0, 4)).toEqual([2_720, 3_220, 3_720, 4_220]);
    expect(a.filter((t) => b.includes(t))).toEqual([]);
    expect(a).toHaveLength(60);
    expect(b).toHaveLength(60);
  });

  it('puts every catch-up tick on the phase-shifted half grid, after `from`, then meets the nominal grid', () => {
    let plans = 0;
    for (const f of [1, 7, 60, 97, 600, 1200]) {
      const period = 60_000 / f;
      for (const phaseFraction of [0, 0.13, 0.5, 0.77, 0.999]) {
        const phase = phaseFraction * period;
        for (const from of [0, 1, 2_400, 2_800, 17_345.5, 45_000, 59_000, 59_999.5]) {
          const p = planTicks({ ...W, frequency: f, phaseMs: phase, from, catchUp: true });
          const t = Array.from({ length: p.count }, (_, i) => p.tickAt(i));
          plans++;
          expect(p.count + p.missed).toBe(p.requested);
          expect(p.requested).toBe(planTicks({ ...W, frequency: f, phaseMs: phase, from: 0, catchUp: true }).count);
          const bad = t.filter((x, i) => {
            const k = (x - phase) / (period / 2);
            return (
              x < from ||
              x >= 60_000 ||
              Math.abs(k - Math.round(k)) > 1e-6 ||
              (i > 0 && x - t[i - 1]! < period / 2 - 1e-6) ||
              // Never ahead of the nominal grid.
              x < phase + i * period - 1e-6
            );
          });
          expect(bad, `f=${f} phase=${phase} from=${from}`).toEqual([]);
          // With room to catch up, the tail is the nominal grid itself.
          if (f >= 60 && from <= 25_000) {
            expect(p.missed).toBe(0);
            expect(t[t.length - 1]).toBe(phase + (t.length - 1) * period);
          }
        }
      }
    }
    expect(plans).toBe(6 * 5 * 8);
  });

  it('spreads a fleet ready together by its phases from the first catch-up tick', () => {
    // Ten hosts at 60/min, all ready 2.6 s into the minute: each first tick is the host's own
    // half-grid instant, so the ten fall at ten different instants within one half period.
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i + 1}`);
    const firsts = hosts.map((h) => planTicks({ ...W, frequency: 60, phaseMs: phaseFor(h, 'fleet', 1000), from: 2_600, catchUp: true }).tickAt(0));
    expect(new Set(firsts).size).toBe(10);
    for (const t of firsts) {
      expect(t).toBeGreaterThanOrEqual(2_600);
      expect(t).toBeLessThan(3_100);
    }
  });

  it('fires nothing before `from` and nothing at or after the window end', () => {
    for (const from of [0, 1, 12_345, 59_000]) {
      for (const catchUp of [true, false]) {
        const t = ticks({ ...W, frequency: 997, phaseMs: 33, from, catchUp });
        expect(t.every((x) => x >= from && x < 60_000)).toBe(true);
      }
    }
  });

  it('prorates a short window: 1200/min over 5 s is 100 ticks, whatever the phase', () => {
    for (const phase of [0, 10, 49.999]) {
      const p = planTicks({ windowStart: 1000, windowEnd: 6000, frequency: 1200, phaseMs: phase, from: 1000, catchUp: true });
      expect(p.count).toBe(100);
    }
  });

  it('is exact with fractional periods (7/min: the last tick must not land on the window end)', () => {
    const p = planTicks({ ...W, frequency: 7, phaseMs: 0, from: 0, catchUp: true });
    expect(p.count).toBe(7);
    expect(p.tickAt(6)).toBeCloseTo(6 * (60_000 / 7), 9);
  });

  it(`is exact at the default max frequency (max_frequency = ${MAX_FREQUENCY}/min: one tick per ms)`, () => {
    expect(MAX_FREQUENCY).toBe(60_000);
    const p = planTicks({ ...W, frequency: MAX_FREQUENCY, phaseMs: 0, from: 0, catchUp: true });
    expect({ count: p.count, missed: p.missed, requested: p.requested, periodMs: p.periodMs }).toEqual({ count: 60_000, missed: 0, requested: 60_000, periodMs: 1 });
    // Every tick on its own millisecond, computed (not accumulated), none at the window end.
    for (let i = 0; i < p.count; i++) if (p.tickAt(i) !== i) expect(p.tickAt(i), `tick ${i}`).toBe(i);
  });

  it.each([
    // phase, from, catchUp → count, missed, first, last (ms), smallest gap (ms)
    { phase: 0.999, from: 0, catchUp: true, count: 60_000, missed: 0, first: 0.999, last: 59_999.999, gap: 1 },
    // 30 s late: 30 000 behind, 30 s left at 2 per ms: exactly room for all of them, on the half grid.
    { phase: 0.25, from: 30_000, catchUp: true, count: 60_000, missed: 0, first: 30_000.25, last: 59_999.75, gap: 0.5 },
    // 45 s late: 15 s at 2 per ms = 30 000 delivered, 30 000 missed.
    { phase: 0.25, from: 45_000, catchUp: true, count: 30_000, missed: 30_000, first: 45_000.25, last: 59_999.75, gap: 0.5 },
    { phase: 0.25, from: 45_000.1, catchUp: true, count: 30_000, missed: 30_000, first: 45_000.25, last: 59_999.75, gap: 0.5 },
    // Added mid-window: its share of the rest, no burst.
    { phase: 0.7, from: 45_000, catchUp: false, count: 15_000, missed: 0, first: 45_000.7, last: 59_999.7, gap: 1 },
  ])('at max frequency, phase=$phase from=$from catchUp=$catchUp → $count ticks, $missed missed', ({ phase, from, catchUp, count, missed, first, last, gap }) => {
    const p = planTicks({ ...W, frequency: MAX_FREQUENCY, phaseMs: phase, from, catchUp });
    expect({ count: p.count, missed: p.missed }).toEqual({ count, missed });
    expect(p.tickAt(0)).toBeCloseTo(first, 9);
    expect(p.tickAt(p.count - 1)).toBeCloseTo(last, 9);
    expect(p.tickAt(p.count)).toBeGreaterThanOrEqual(60_000);
    let smallest = Infinity;
    for (let i = 1; i < p.count; i++) smallest = Math.min(smallest, p.tickAt(i) - p.tickAt(i - 1));
    expect(smallest).toBeCloseTo(gap, 9);
  });

  it('is exact just below max frequency, where the period is fractional (59 999/min)', () => {
    const p = planTicks({ ...W, frequency: MAX_FREQUENCY - 1, phaseMs: 0.5, from: 0, catchUp: true });
    expect(p.count).toBe(MAX_FREQUENCY - 1);
    expect(p.tickAt(p.count - 1)).toBeCloseTo(0.5 + (MAX_FREQUENCY - 2) * (60_000 / (MAX_FREQUENCY - 1)), 6);
    expect(p.tickAt(p.count - 1)).toBeLessThan(60_000);
  });
});

describe('phaseFor', () => {
  it('is deterministic, within [0, period), and differs by host and by test', () => {
    const a = phaseFor('web-1', 'home', 1000);
    expect(phaseFor('web-1', 'home', 1000)).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1000);
    const phases = new Set(Array.from({ length: 50 }, (_, i) => Math.floor(phaseFor(`web-${i}`, 'home', 1000))));
    expect(phases.size).toBeGreaterThan(40);
    expect(phaseFor('web-1', 'other', 1000)).not.toBe(a);
  });
  it('is 0 for a paused test', () => {
    expect(phaseFor('h', 't', Infinity)).toBe(0);
  });
});

describe('windowFor', () => {
  it('owns the wall-clock minute by default', () => {
    const t = Date.UTC(2026, 10, 22, 12, 34, 56, 789);
    expect(windowFor(t)).toEqual({ startWall: Date.UTC(2026, 10, 22, 12, 34), endWall: Date.UTC(2026, 10, 22, 12, 35) });
  });
  it('owns [now, now + lifetime) with --lifetime', () => {
    expect(windowFor(1_000_500, 5)).toEqual({ startWall: 1_000_500, endWall: 1_005_500 });
  });
});
