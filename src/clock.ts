import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

/**
 * The time seam. `now()` is monotonic milliseconds (for pacing and latency); `wallNow()` is epoch
 * milliseconds (only for window edges and metric timestamps). Tests swap in a fake.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): number;
  /**
   * Wall-clock epoch milliseconds. It can step forward or back at any moment (NTP, an operator), so
   * nothing paces on it; timestamps read it when they are taken.
   */
  wallNow(): number;
  /** Resolves once `now() >= monoMs`, or early (without throwing) when `signal` aborts. */
  sleepUntil(monoMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` once, `ms` from now (monotonic); returns what cancels it. The timer holds the process
   * alive unless `unref` is set.
   */
  after(ms: number, fn: () => void, options?: TimerOptions): Cancel;
  /** Calls `fn` every `ms` until cancelled; the same `unref` choice as `after`. */
  every(ms: number, fn: () => void, options?: TimerOptions): Cancel;
  /** Calls `fn` on a later turn of the event loop, after pending I/O: a yield, not a time. */
  soon(fn: () => void): Cancel;
}

/** Cancels a timer; calling it again, or after the timer fired, does nothing. */
export type Cancel = () => void;

/** How a timer treats process exit. */
export interface TimerOptions {
  /** True: the timer alone does not keep the process alive. Default false. */
  unref?: boolean;
}

/**
 * Waits for `promise` or `ms` on `clock`, whichever is first: the promise's value, or `onTimeout`
 * (at once when `ms <= 0`). The timer is deliberately not unref'd: it is bounded, and it keeps the
 * process alive while a caller awaits a final flush or a child's exit.
 */
export async function withDeadline<T, U = undefined>(clock: Clock, promise: Promise<T>, ms: number, onTimeout?: U): Promise<T | U> {
  if (ms <= 0) return onTimeout as U;
  let cancel: Cancel | undefined;
  const timedOut = new Promise<U>((resolve) => (cancel = clock.after(ms, () => resolve(onTimeout as U))));
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    cancel?.();
  }
}

/** The real clock: `performance.now()` and `Date.now()`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  async sleepUntil(monoMs, signal) {
    const wait = monoMs - performance.now();
    if (signal?.aborted) return;
    if (wait <= 0) return;
    try {
      await delay(Math.ceil(wait), undefined, signal ? { signal } : undefined);
    } catch {
      // aborted: the caller checks its signal
    }
  },
  after(ms, fn, options) {
    // Whole ms, rounded up: Node fires a timer on whole ms anyway (a 2.5 ms timer fires at 3 ms), and
    // keeps one timer list per distinct duration, so fractional ones (a tick's due time) would each
    // make a list of their own.
    const timer = setTimeout(fn, Math.max(0, Math.ceil(ms)));
    if (options?.unref) timer.unref();
    return () => clearTimeout(timer);
  },
  every(ms, fn, options) {
    const timer = setInterval(fn, ms);
    if (options?.unref) timer.unref();
    return () => clearInterval(timer);
  },
  soon(fn) {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  },
};
