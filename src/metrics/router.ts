import type { Clock } from '../clock.js';
import { destinationKey, type Destination } from '../config/destination.js';
import type { Logger } from '../log.js';
import { createConsoleSink } from './console.js';
import { createGraphiteSink } from './graphite.js';
import { expandPrefix } from './names.js';
import { createHostResolver } from '../net/resolve.js';
import type { AgentCounter, MetricEvent, MetricSink } from './sink.js';
import { createStatsdSink } from './statsd.js';

/** What the router needs to build sinks. */
export interface SinkRouterOptions {
  clock: Clock;
  logger: Logger;
  hostname: string;
  /** Unexpanded prefixes (may hold `{host}`). */
  statsdPrefix: string;
  graphitePrefix: string;
  /** Where console lines go; default stdout. */
  write?: (line: string) => void;
}

/** Sends each test's events to the sinks its line names; one sink per distinct destination. */
export interface SinkRouter {
  /** Routes one event to the sinks of `destinations` (the array identity is cached: pass the spec's own). */
  emit(destinations: readonly Destination[], event: MetricEvent): void;
  /** Sends an agent counter to the sinks of `destinations`. */
  recordAgent(destinations: readonly Destination[], counter: AgentCounter): void;
  /** Flushes and closes every sink, all by `deadlineMonoMs`. */
  stop(deadlineMonoMs: number): Promise<void>;
}

/** Creates a router that opens sinks lazily, the first time a destination is used. */
export function createSinkRouter(options: SinkRouterOptions): SinkRouter {
  const sinks = new Map<string, MetricSink>();
  const byList = new WeakMap<readonly Destination[], MetricSink[]>();
  const statsdPrefix = expandPrefix(options.statsdPrefix, options.hostname);
  const graphitePrefix = expandPrefix(options.graphitePrefix, options.hostname);
  // One resolution per host name per run, shared by the sinks, and abandoned at stop.
  const resolver = createHostResolver();

  const open = (d: Destination): MetricSink | undefined => {
    if (d.kind === 'none') return undefined;
    const key = destinationKey(d);
    const existing = sinks.get(key);
    if (existing) return existing;
    const { clock, logger } = options;
    const sink: MetricSink =
      d.kind === 'statsd'
        ? createStatsdSink({ destination: d, prefix: statsdPrefix, logger, clock, resolver })
        : d.kind === 'graphite'
          ? createGraphiteSink({ destination: d, prefix: graphitePrefix, logger, clock, resolver })
          : createConsoleSink({ clock, ...(options.write ? { write: options.write } : {}) });
    sinks.set(key, sink);
    sink.start().catch((err: unknown) => logger.warn('metrics destination failed to start', { destination: key, error: String(err) }));
    return sink;
  };

  const sinksFor = (destinations: readonly Destination[]): MetricSink[] => {
    let list = byList.get(destinations);
    if (!list) {
      list = destinations.map(open).filter((s): s is MetricSink => s !== undefined);
      byList.set(destinations, list);
    }
    return list;
  };

  return {
    emit(destinations, event) {
      for (const sink of sinksFor(destinations)) sink.record(event);
    },
    recordAgent(destinations, counter) {
      for (const sink of sinksFor(destinations)) sink.recordAgent(counter);
    },
    async stop(deadlineMonoMs) {
      try {
        await Promise.all([...sinks.values()].map((s) => s.stop(deadlineMonoMs).catch(() => undefined)));
      } finally {
        resolver.cancel();
      }
    },
  };
}
