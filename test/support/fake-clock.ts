import type { Cancel, Clock } from '../../src/clock.js';
import { performance } from 'node:perf_hooks';
import { waitFor } from './cli.js';

/** A clock that moves only when told to; sleepers wake in time order as it advances. */
export class FakeClock implements Clock {
  #mono: number;
  #wallOffset: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(startMono = 1_000, startWall = Date.UTC(2026, 10, 22, 12, 0, 0)) {
    this.#mono = startMono;
    this.#wallOffset = startWall - startMono;
  }
  now(): number {
    return this.#mono;
  }
  wallNow(): number {
    return this.#mono + this.#wallOffset;
  }
  sleepUntil(monoMs: number, signal?: AbortSignal): Promise<void> {
    if (monoMs <= this.#mono || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      // Like the real clock, a sleeper that wakes removes its abort listener, so a long-lived signal
      // does not collect one per sleep.
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      };
      const sleeper = {
        at: monoMs,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  /** Runs `fn` once the clock has advanced `ms`; `unref` means nothing to a fake. */
  after(ms: number, fn: () => void): Cancel {
    const timer = { at: this.#mono + Math.max(0, ms), resolve: fn };
    this.#sleepers.push(timer);
    return () => {
      this.#sleepers = this.#sleepers.filter((s) => s !== timer);
    };
  }
  /** Runs `fn` every `ms` of fake time until cancelled. */
  every(ms: number, fn: () => void): Cancel {
    let cancelNext: Cancel = () => undefined;
    let cancelled = false;
    const tick = () => {
      if (cancelled) return;
      cancelNext = this.after(ms, tick);
      fn();
    };
    cancelNext = this.after(ms, tick);
    return () => {
      cancelled = true;
      cancelNext();
    };
  }
  /** A later turn of the real event loop: a yield, not a time, so the fake does not hold it. */
  soon(fn: () => void): Cancel {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  }
  /** Number of pending sleepers and timers. */
  get pending(): number {
    return this.#sleepers.length;
  }
  /** Moves time forward by `ms` at once, then wakes every sleeper due: what a frozen process sees. */
  async jump(ms: number): Promise<void> {
    this.#mono += ms;
    await flushMicrotasks();
    const due = this.#sleepers.filter((s) => s.at <= this.#mono);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#mono);
    for (const s of due) s.resolve();
    await flushMicrotasks();
  }
  /** Moves time forward by `ms`, waking every sleeper due on the way, in order, letting microtasks run. */
  async advance(ms: number): Promise<void> {
    const target = this.#mono + ms;
    for (;;) {
      await flushMicrotasks();
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > target) break;
      this.#sleepers.shift();
      this.#mono = Math.max(this.#mono, next.at);
      next.resolve();
    }
    this.#mono = target;
    await flushMicrotasks();
  }
}

/** What drives a fake clock beside real sockets: how far each step moves it, and the real-time bound. */
export interface DriveOptions {
  /** Fake ms per step. Default 50. */
  stepMs?: number;
  /** Real ms before giving up. Default 3 000. */
  timeoutMs?: number;
  /** Added to the failure message. */
  message?: string;
  /** Called before each step (what a running agent would do meanwhile, e.g. record an event). */
  onStep?: () => void;
  /** No step takes the clock past this (monotonic ms). */
  maxTo?: number;
}

/**
 * Advances `clock` by `stepMs` at a time until `done()` holds, letting real I/O run between steps
 * (the tests' one polling loop, every 5 ms); rejects after `timeoutMs` of real time. For code on the
 * fake clock talking to real sockets: its flushes and backoffs move with fake time, its sockets
 * with real time. `done()` is checked before the first step, so nothing moves when it already holds.
 */
export async function driveUntil(clock: FakeClock, done: () => boolean, options: DriveOptions = {}): Promise<void> {
  const stepMs = options.stepMs ?? 50;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const ok = await waitFor(
    async () => {
      if (done()) return true;
      options.onStep?.();
      await clock.advance(Math.min(stepMs, Math.max(0, (options.maxTo ?? Infinity) - clock.now())));
      return done();
    },
    timeoutMs,
    5,
  );
  if (!ok) throw new Error(`${options.message ? `${options.message}: ` : ''}not done within ${timeoutMs} ms of real time (fake clock at ${clock.now()})`);
}

/** A promise whose settling can be read synchronously. */
export interface Watched<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
}

/** Watches `promise`: `settled` turns true (on a microtask) once it resolves or rejects. */
export function watch<T>(promise: Promise<T>): Watched<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  watched.catch(() => undefined);
  return {
    promise: watched,
    get settled() {
      return settled;
    },
  };
}

/**
 * Drives `clock` until `promise` settles (a `stop` whose deadline is on the clock) and returns its
 * value and how much fake time that took.
 */
export async function settleOn<T>(clock: FakeClock, promise: Promise<T>, options: DriveOptions = {}): Promise<{ value: T; fakeMs: number }> {
  const from = clock.now();
  const w = watch(promise);
  await driveUntil(clock, () => w.settled, options);
  return { value: await w.promise, fakeMs: clock.now() - from };
}

/** How a promise bounded by a deadline on the clock came out: see `driveToDeadline`. */
export interface DeadlineOutcome<T> {
  value: T;
  /** True when it had settled before the clock reached 1 ms before the deadline. */
  early: boolean;
  /** Real ms it took to settle once the clock reached the deadline (0 when early). */
  realMsAfterDeadline: number;
}

/**
 * Drives `clock` in steps (real I/O between) to 1 ms before `deadlineMono` unless `promise` settles
 * first, notes whether it had, then moves it to the deadline and waits (real time, bounded by
 * `timeoutMs`) for it to settle. For a `stop(deadline)` on the fake clock: `early` says whether it
 * gave up (or finished) before its deadline, `realMsAfterDeadline` how promptly it returned at it.
 */
export async function driveToDeadline<T>(clock: FakeClock, promise: Promise<T>, deadlineMono: number, options: DriveOptions = {}): Promise<DeadlineOutcome<T>> {
  const stepMs = options.stepMs ?? 50;
  const w = watch(promise);
  const before = deadlineMono - 1;
  // Each step is followed by a real pause (the polling loop's), so I/O due before the deadline happens.
  await driveUntil(clock, () => w.settled || clock.now() >= before, { ...options, stepMs, maxTo: before });
  if (!w.settled) await waitFor(() => w.settled, 10, 5);
  const early = w.settled;
  if (early) return { value: await w.promise, early, realMsAfterDeadline: 0 };
  const started = performance.now();
  await clock.advance(deadlineMono - clock.now());
  const ok = await waitFor(() => w.settled, options.timeoutMs ?? 3_000, 5);
  if (!ok) throw new Error(`${options.message ? `${options.message}: ` : ''}not settled within ${options.timeoutMs ?? 3_000} ms of real time after its deadline`);
  return { value: await w.promise, early, realMsAfterDeadline: performance.now() - started };
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
