import type { Cancel, Clock } from '../../src/clock.js';

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

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
