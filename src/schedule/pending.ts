/**
 * Executions in flight, for the scheduler's sweep of executions a job left hanging: a list linked
 * through the entries themselves, so adding and removing one (twice per execution) allocates nothing
 * and needs no hash of the entry, unlike a Set.
 */

/** One entry; its links belong to the list. */
export abstract class PendingEntry {
  prev: PendingEntry | undefined;
  next: PendingEntry | undefined;
  linked = false;
}

/** Entries in the order they were added. */
export class PendingList<T extends PendingEntry> {
  #head: T | undefined;
  #tail: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(entry: T): void {
    entry.prev = this.#tail;
    entry.next = undefined;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    entry.linked = true;
    this.#size++;
  }

  /** Takes `entry` out; false when it was not in the list. */
  remove(entry: T): boolean {
    if (!entry.linked) return false;
    entry.linked = false;
    const prev = entry.prev as T | undefined;
    const next = entry.next as T | undefined;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    entry.prev = entry.next = undefined;
    this.#size--;
    return true;
  }

  /** Calls `visit` with each entry, oldest first; `visit` may remove the entry it is given. */
  forEach(visit: (entry: T) => void): void {
    for (let entry = this.#head; entry; ) {
      const next = entry.next as T | undefined;
      visit(entry);
      entry = next;
    }
  }
}
