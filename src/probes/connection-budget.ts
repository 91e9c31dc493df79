/**
 * The one budget of open connections every http pool draws from, sized from the process's fd limit
 * (`connectionBudget` in limits.ts): a connect beyond it waits for a connection to close, and taking
 * the last slot raises the `connections` limit alarm.
 */
import { connectionBudget, limitHit, softFdLimit } from '../limits.js';

/** Open connections of every pool, against the budget; a connect beyond it waits for one to close. */
export class ConnectionBudget {
  readonly max: number;
  #open = 0;
  readonly #waiting = new Set<() => void>();

  constructor(max: number) {
    this.max = max;
  }

  /** Takes a slot now, or returns false. Taking the last one raises the alarm: from here on requests queue. */
  tryTake(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    if (this.#open === this.max) limitHit('connections', { connections: this.max });
    return true;
  }

  /** Calls `granted` once a slot is taken for it; the returned function withdraws the wait. */
  take(granted: () => void): () => void {
    if (this.tryTake()) {
      granted();
      return () => {};
    }
    const waiter = () => {
      this.#open++;
      granted();
    };
    this.#waiting.add(waiter);
    return () => this.#waiting.delete(waiter);
  }

  /** Returns a slot (a connection closed), handing it to the longest waiter. */
  give(): void {
    this.#open--;
    const next = this.#waiting.values().next();
    if (!next.done) {
      this.#waiting.delete(next.value);
      next.value();
    }
  }

  /** Connections open (or connecting) now. */
  get open(): number {
    return this.#open;
  }
}

let budget: ConnectionBudget | undefined;

/** The process-wide connection budget (computed from the soft fd limit on first use). */
export function sharedBudget(): ConnectionBudget {
  budget ??= new ConnectionBudget(connectionBudget(softFdLimit()));
  return budget;
}
