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
};
