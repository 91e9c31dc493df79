/**
 * Every metric path canihaz sends is built here, so StatsD, Graphite and the docs agree on one scheme.
 * Prefixes are templates: `{host}` stands for the short hostname.
 */
import type { IntervalSnapshot } from './intervals.js';

/** The default metric prefix. */
export const DEFAULT_PREFIX = 'canihaz';

/**
 * The default StatsD prefix: the bare prefix, because StatsD sums counters from every sender, so the
 * fleet's hosts add up into one series.
 */
export function defaultStatsdPrefix(prefix: string): string {
  return prefix;
}

/**
 * The default Graphite prefix: `<prefix>.{host}`. Graphite keeps one value per path and timestamp
 * instead of summing senders, so each host needs its own path.
 */
export function defaultGraphitePrefix(prefix: string): string {
  return `${prefix}.{host}`;
}

/** A name reduced to one safe path segment: every character outside `[A-Za-z0-9_-]` becomes `_`. */
export function metricSegment(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return safe === '' ? '_' : safe;
}

/** The hostname up to its first dot, as one path segment (`web-1.example.com` → `web-1`). */
export function shortHostname(hostname: string): string {
  const short = hostname.split('.')[0] ?? '';
  return short === '' ? 'unknown' : metricSegment(short);
}

/** Replaces every `{host}` in a prefix template with the short hostname. */
export function expandPrefix(template: string, hostname: string): string {
  return template.replaceAll('{host}', shortHostname(hostname));
}

/** The StatsD names for one test. */
export interface StatsdTestNames {
  /** Counter: successful executions. */
  ok: string;
  /** Counter: failed executions. */
  failed: string;
  /** Timer, ms: dispatch → completion of every execution. */
  latency: string;
  /** Timer, ms: scheduled tick → dispatch of every execution. */
  lag: string;
  /** Counter: ticks dropped because the test was at its concurrency cap. */
  dropped: string;
  /** Counter: ticks that did not fit the window after a late start. */
  missed: string;
  /** Counter: executions cut short by a stop. */
  aborted: string;
  /** Counter: failed executions with a given reason. */
  failedReason(reason: string): string;
}

/** Builds the StatsD names of `test` under an expanded prefix. */
export function statsdTestNames(prefix: string, test: string): StatsdTestNames {
  const base = `${prefix}.${metricSegment(test)}`;
  return {
    ok: `${base}.ok`,
    failed: `${base}.failed`,
    latency: `${base}.latency`,
    lag: `${base}.lag`,
    dropped: `${base}.dropped`,
    missed: `${base}.missed`,
    aborted: `${base}.aborted`,
    failedReason: (reason) => `${base}.failed.${metricSegment(reason || 'unknown')}`,
  };
}

/** The StatsD counter of an agent-level event, e.g. `canihaz.agent.skipped`. */
export function statsdAgentName(prefix: string, name: string): string {
  return `${prefix}.agent.${metricSegment(name)}`;
}

/** One Graphite value, before a timestamp is attached. */
export interface GraphitePoint {
  path: string;
  value: number;
}

/**
 * The Graphite points for one test's interval under an expanded prefix: `count` (ok + failed), `ok`,
 * `failed`, `dropped`, `missed`, `aborted`, and, only when `count > 0`, `latency.{mean,p50,p90,p99,max}` in ms.
 */
export function graphiteIntervalPoints(prefix: string, snapshot: IntervalSnapshot): GraphitePoint[] {
  const base = `${prefix}.${metricSegment(snapshot.test)}`;
  const points: GraphitePoint[] = [
    { path: `${base}.count`, value: snapshot.count },
    { path: `${base}.ok`, value: snapshot.ok },
    { path: `${base}.failed`, value: snapshot.failed },
    { path: `${base}.dropped`, value: snapshot.dropped },
    { path: `${base}.missed`, value: snapshot.missed },
    { path: `${base}.aborted`, value: snapshot.aborted },
  ];
  const latency = snapshot.latency;
  if (snapshot.count > 0 && latency) {
    points.push(
      { path: `${base}.latency.mean`, value: latency.mean },
      { path: `${base}.latency.p50`, value: latency.p50 },
      { path: `${base}.latency.p90`, value: latency.p90 },
      { path: `${base}.latency.p99`, value: latency.p99 },
      { path: `${base}.latency.max`, value: latency.max },
    );
  }
  return points;
}

/** The Graphite path of an agent-level counter, e.g. `canihaz.web-1.agent.skipped`. */
export function graphiteAgentPath(prefix: string, name: string): string {
  return `${prefix}.agent.${metricSegment(name)}`;
}
