/** Waiting on the run's one abort signal from many executions of every probe type at once, cheaply. */

/** Callbacks waiting on each caller signal, behind one real listener per signal. */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `onAbort` when `signal` aborts; returns the way to stop waiting. Every execution of every
 * test waits on the run's one signal: EventTarget walks its whole listener list on each add and
 * remove (63 ms per thousand executions with 10,000 in flight), a Set does not.
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (!waiters) {
    const set = new Set<() => void>();
    waiters = set;
    abortWaiters.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        for (const f of [...set]) f();
        set.clear();
      },
      { once: true },
    );
  }
  const mine = waiters;
  mine.add(onAbort);
  return () => mine.delete(onAbort);
}
