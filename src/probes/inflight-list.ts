/**
 * A probe's executions in flight, in the order they started, with one timer for all their timeouts
 * and one wait per caller signal for all their stops: what a timer, an abort listener and a
 * Promise.race per execution did, at a few list operations per execution.
 */
import type { Cancel, Clock } from '../clock.js';
import { whenAborted } from './abort-waiters.js';

/** One execution as the list holds it (its links are the list's own; set nothing but `deadline` and `signal`). */
export abstract class InflightEntry {
  /** When it times out, monotonic ms. */
  deadline = 0;
  /** The caller's signal: its abort stops this execution. */
  signal: AbortSignal | undefined;
  prev: InflightEntry | undefined;
  next: InflightEntry | undefined;
  /** True while in a list. */
  linked = false;
  /** Called once its deadline has passed (it is already unlinked). */
  abstract expire(): void;
  /** Called once its signal has aborted (it is already unlinked). */
  abstract stop(): void;
}

/**
 * Executions in flight, oldest first. Every entry of one list has the same timeout, so deadlines only
 * grow from head to tail and the one timer only ever waits for the head's. The timer is not re-armed
 * when an execution ends; when it fires with nothing due it waits for the new head instead, so a probe
 * pays for about one timer per timeout, not one per execution. It is unref'd: an execution is held by
 * its socket or by the run, never by its own timeout.
 */
export class InflightList {
  readonly #clock: Clock;
  #head: InflightEntry | undefined;
  #tail: InflightEntry | undefined;
  #size = 0;
  /** The armed timer: when it fires (monotonic ms) and what cancels it. */
  #timerAt = Infinity;
  #cancelTimer: Cancel | undefined;
  /** The caller signals waited on, each with the way to stop waiting. */
  readonly #watched = new Map<AbortSignal, () => void>();
  readonly #sweep = () => this.#onTimer();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Executions in the list. */
  get size(): number {
    return this.#size;
  }

  /** Adds `entry` at the tail (its `deadline` no earlier than any other's) and watches its signal. */
  add(entry: InflightEntry): void {
    const signal = entry.signal;
    if (signal && !this.#watched.has(signal)) this.#watched.set(signal, whenAborted(signal, () => this.#stopAll(signal)));
    entry.prev = this.#tail;
    entry.next = undefined;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    entry.linked = true;
    this.#size++;
    if (this.#timerAt === Infinity) this.#arm(entry.deadline);
  }

  /** Takes `entry` out (it ended); nothing if it is not in the list. */
  remove(entry: InflightEntry): void {
    if (!entry.linked) return;
    entry.linked = false;
    const { prev, next } = entry;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    entry.prev = entry.next = undefined;
    this.#size--;
  }

  /** Stops waiting on every signal and cancels the timer; entries still in the list stay (they end by themselves). */
  close(): void {
    for (const stopWaiting of this.#watched.values()) stopWaiting();
    this.#watched.clear();
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(at: number): void {
    this.#timerAt = at;
    this.#cancelTimer = this.#clock.after(at - this.#clock.now(), this.#sweep, { unref: true });
  }

  /** Expires every entry whose deadline has passed, then waits for the next head's. */
  #onTimer(): void {
    this.#timerAt = Infinity;
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    // Bounded: each pass unlinks the head.
    for (let entry = this.#head; entry && entry.deadline <= now; entry = this.#head) {
      this.remove(entry);
      entry.expire();
    }
    if (this.#head) this.#arm(this.#head.deadline);
  }

  /** Stops every entry waiting on `signal`. */
  #stopAll(signal: AbortSignal): void {
    this.#watched.delete(signal);
    let entry = this.#head;
    while (entry) {
      const next = entry.next;
      if (entry.signal === signal) {
        this.remove(entry);
        entry.stop();
      }
      entry = next;
    }
  }
}
