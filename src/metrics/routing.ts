/**
 * The routing core every metric goes through: one sink per distinct destination (by
 * `destinationKey`), opened lazily the first time a destination is used, each event sent to the
 * sinks its test names, and one bounded stop for all. It knows no sink kind: the opener it is given
 * does (router.ts opens every kind; a copy that only counts `agent.skipped` opens StatsD alone).
 */
import type { AgentCounter, MetricEvent } from '../events.js';
import type { Logger } from '../log.js';
import { destinationKey, type Destination } from './destination.js';
import type { MetricSink } from './sink.js';

/** Sends each test's events to the sinks its line names; one sink per distinct destination. */
export interface SinkRouter {
  /**
   * Routes one event to the sinks of `destinations` (the array identity is cached: pass the spec's
   * own). The sinks get it in a microtask, in order; `recordAgent` and `stop` hand over what waits first.
   */
  emit(destinations: readonly Destination[], event: MetricEvent): void;
  /** Sends an agent counter once to each sink of `destinations` (which may name one place more than once, e.g. every test's list). */
  recordAgent(destinations: readonly Destination[], counter: AgentCounter): void;
  /** Flushes and closes every sink, all by `deadlineMonoMs`. */
  stop(deadlineMonoMs: number): Promise<void>;
}

/** What the routing core needs. */
export interface RoutingOptions {
  logger: Logger;
  /** Builds the sink of one destination, once per distinct destination; undefined sends it nowhere (`none`). */
  open(destination: Destination): MetricSink | undefined;
  /** Called once every sink has stopped (e.g. to cancel a resolver the sinks shared). */
  onStopped?(): void;
}

/** Creates a router over `options.open`. */
export function createRouting(options: RoutingOptions): SinkRouter {
  const { logger } = options;
  const sinks = new Map<string, MetricSink | undefined>();
  const byList = new WeakMap<readonly Destination[], MetricSink[]>();

  const open = (d: Destination): MetricSink | undefined => {
    const key = destinationKey(d);
    if (sinks.has(key)) return sinks.get(key);
    const sink = options.open(d);
    sinks.set(key, sink);
    sink?.start().catch((err: unknown) => logger.warn('metrics destination failed to start', { destination: key, error: String(err) }));
    return sink;
  };
  const opened = (destinations: readonly Destination[]) => destinations.map(open).filter((s): s is MetricSink => s !== undefined);
  /** The list looked up last: a test's events mostly follow each other. */
  let lastList: readonly Destination[] | undefined;
  let lastSinks: MetricSink[] = [];
  const sinksFor = (destinations: readonly Destination[]): MetricSink[] => {
    if (destinations === lastList) return lastSinks;
    let list = byList.get(destinations);
    if (!list) {
      list = opened(destinations);
      byList.set(destinations, list);
    }
    lastList = destinations;
    lastSinks = list;
    return list;
  };

  // Events reach the sinks in a batch, in a microtask after the one that emitted them (same order,
  // same turn): the emitting path (a settled execution) stays small, and the sinks' formatting and
  // aggregation is compiled as a loop of its own instead of being inlined, and recompiled, into
  // every caller — which cost more CPU in optimising compiles than the sinks' own work in a 5 s run.
  const queuedSinks: MetricSink[][] = [];
  const queuedEvents: MetricEvent[] = [];
  let drainQueued = false;
  const drain = (): void => {
    drainQueued = false;
    try {
      // Bounded: sinks never emit.
      for (let i = 0; i < queuedEvents.length; i++) {
        const event = queuedEvents[i]!;
        for (const sink of queuedSinks[i]!) sink.record(event);
      }
    } finally {
      queuedSinks.length = 0;
      queuedEvents.length = 0;
    }
  };

  return {
    emit(destinations, event) {
      const list = sinksFor(destinations);
      if (list.length === 0) return;
      queuedSinks.push(list);
      queuedEvents.push(event);
      if (!drainQueued) {
        drainQueued = true;
        queueMicrotask(drain);
      }
    },
    recordAgent(destinations, counter) {
      drain();
      for (const sink of new Set(opened(destinations))) sink.recordAgent(counter);
    },
    async stop(deadlineMonoMs) {
      drain();
      try {
        await Promise.all([...sinks.values()].map((s) => s?.stop(deadlineMonoMs).catch(() => undefined)));
      } finally {
        options.onStopped?.();
      }
    },
  };
}
