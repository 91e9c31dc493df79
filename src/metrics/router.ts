/**
 * The run's router: the routing core (routing.ts) with every sink kind — StatsD, Graphite and the
 * console — their prefixes expanded once and one host resolver shared by them for the run.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { createHostResolver } from '../net/resolve.js';
import { createConsoleSink } from './console.js';
import { createGraphiteSink } from './graphite.js';
import { expandPrefix } from './names.js';
import { createRouting, type SinkRouter } from './routing.js';
import { createStatsdSink } from './statsd.js';
import type { StatsdTagFormat } from './statsd-lines.js';

/** What the router needs to build sinks. */
export interface SinkRouterOptions {
  clock: Clock;
  logger: Logger;
  hostname: string;
  /** Unexpanded prefixes (may hold `{host}`). */
  statsdPrefix: string;
  graphitePrefix: string;
  /** `statsd_tags`: the test and host as StatsD tags in this syntax instead of path segments; default `none`. */
  statsdTags?: StatsdTagFormat;
  /** Where console lines go; default stdout. */
  write?: (line: string) => void;
}

/** Creates a router that opens sinks of every kind lazily, the first time a destination is used. */
export function createSinkRouter(options: SinkRouterOptions): SinkRouter {
  const { clock, logger } = options;
  const statsdPrefix = expandPrefix(options.statsdPrefix, options.hostname);
  const graphitePrefix = expandPrefix(options.graphitePrefix, options.hostname);
  // One resolution per host name per run, shared by the sinks, and abandoned at stop.
  const resolver = createHostResolver();
  const tags = { format: options.statsdTags ?? 'none', hostname: options.hostname } as const;
  return createRouting({
    logger,
    open: (d) =>
      d.kind === 'none'
        ? undefined
        : d.kind === 'statsd'
          ? createStatsdSink({ destination: d, prefix: statsdPrefix, tags, logger, clock, resolver })
          : d.kind === 'graphite'
            ? createGraphiteSink({ destination: d, prefix: graphitePrefix, logger, clock, resolver })
            : createConsoleSink({ clock, ...(options.write ? { write: options.write } : {}) }),
    onStopped: () => resolver.cancel(),
  });
}
