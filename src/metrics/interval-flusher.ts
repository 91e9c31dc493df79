/**
 * The interval flusher shared by the Graphite and console sinks: a call at every wall-clock multiple
 * of the interval length, computed afresh at each wake-up so it never drifts.
 */
import type { Cancel, Clock } from '../clock.js';

export interface IntervalFlusherOptions {
  /** Source of wall-clock time; boundaries are computed from it at every wake-up, so they never drift. */
  clock: Clock;
  /** Interval length, ms. */
  intervalMs: number;
  /** Called once per wake-up with the latest boundary passed (a multiple of `intervalMs`, epoch ms). Must not throw. */
  onBoundary: (boundaryWallMs: number) => void;
}

/** Calls back at every wall-clock multiple of `intervalMs`, on an unref'd timer. */
export interface IntervalFlusher {
  start(): void;
  stop(): void;
}

/**
 * Creates a flusher. Each wait is computed afresh as `next boundary − wallNow()`, so timer lateness
 * never accumulates; a timer that fires early just waits again, and one that fires very late (a
 * suspended machine) reports only the latest boundary passed.
 */
export function createIntervalFlusher(options: IntervalFlusherOptions): IntervalFlusher {
  const { clock, onBoundary } = options;
  const intervalMs = positiveInteger('intervalMs', options.intervalMs);
  let timer: Cancel | undefined;
  let next = 0;

  const schedule = () => {
    timer = clock.after(Math.max(0, next - clock.wallNow()), fire, { unref: true });
  };
  const fire = () => {
    const now = clock.wallNow();
    if (now < next) {
      // More than an interval early means the wall clock was stepped back: wait for the next boundary
      // of the clock as it reads now, not for the old one (which could be hours away).
      if (next - now > intervalMs) next = Math.floor(now / intervalMs) * intervalMs + intervalMs;
      schedule();
      return;
    }
    const boundary = Math.floor(now / intervalMs) * intervalMs;
    next = boundary + intervalMs;
    schedule();
    try {
      onBoundary(boundary);
    } catch {
      // A sink's callback must not throw; if one does, keep the timer alive rather than stop reporting.
    }
  };

  return {
    start() {
      if (timer) return;
      next = Math.floor(clock.wallNow() / intervalMs) * intervalMs + intervalMs;
      schedule();
    },
    stop() {
      timer?.();
      timer = undefined;
    },
  };
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`Expected \`${name}\` to be a positive integer, got ${v}`);
  return v;
}
