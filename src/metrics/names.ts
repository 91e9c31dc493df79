/**
 * Every metric path canihaz sends is built here, so StatsD, Graphite and the docs agree on one scheme.
 * Prefixes are templates: `{host}` stands for the short hostname.
 */
import { EXECUTION_TIMINGS, failureSampleName, LATENCY_BUCKET_NAMES, OUTCOMES, type Outcome } from '../events.js';
import type { IntervalSnapshot, LatencySummary } from './intervals.js';

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

/** A dot-separated name with every segment made safe (`metricSegment`). */
function safePath(name: string): string {
  return name.split('.').map(metricSegment).join('.');
}

/**
 * The path of one of a test's figures under an expanded prefix, for every sink: `canihaz.home.ok`,
 * `canihaz.home.failed.timeout`, `canihaz.web-1.home.latency.p99`, `canihaz.home.step.login`.
 */
export function testMetricName(prefix: string, test: string, name: string): string {
  return `${prefix}.${metricSegment(test)}.${safePath(name)}`;
}

/** `statsd_tags`: the test and host as StatsD path segments (`none`), or as tags in DogStatsD's or Telegraf's syntax. */
export const STATSD_TAG_FORMATS = ['none', 'dogstatsd', 'telegraf'] as const;
export type StatsdTagFormat = (typeof STATSD_TAG_FORMATS)[number];

/**
 * The StatsD name of one of a test's figures when the test and host travel as tags (`statsd_tags`):
 * the prefix and the figure, without the test's segment — `canihaz.latency`, `canihaz.failed.timeout`,
 * `canihaz.latency.le_100`.
 */
export function taggedMetricName(prefix: string, name: string): string {
  return `${prefix}.${safePath(name)}`;
}

/** The path of an agent-level counter, e.g. `canihaz.agent.skipped` (StatsD) or `canihaz.web-1.agent.skipped` (Graphite). */
export function agentMetricName(prefix: string, name: string): string {
  return `${prefix}.agent.${metricSegment(name)}`;
}

/** One test's built-in StatsD names (outcome counters, execution timings, failure reasons), derived from the vocabulary. */
export type StatsdTestNames = Record<Outcome | (typeof EXECUTION_TIMINGS)[number], string> & {
  /** Counter: failed executions with a given reason. */
  failedReason(reason: string): string;
};

/** Builds the StatsD names of `test` under an expanded prefix. */
export function statsdTestNames(prefix: string, test: string): StatsdTestNames {
  const name = (sample: string) => testMetricName(prefix, test, sample);
  const names = Object.fromEntries([...OUTCOMES, ...EXECUTION_TIMINGS].map((k) => [k, name(k)])) as Record<Outcome | (typeof EXECUTION_TIMINGS)[number], string>;
  return { ...names, failedReason: (reason) => name(failureSampleName(reason)) };
}

/** One Graphite value, before a timestamp is attached. */
export interface GraphitePoint {
  path: string;
  value: number;
}

/** The figures of a distribution, in the order they are sent. */
const DISTRIBUTION: readonly (keyof LatencySummary)[] = ['mean', 'p50', 'p90', 'p99', 'max'];

/**
 * The Graphite points for one test's interval under an expanded prefix: `count` (ok + failed), every
 * outcome (OUTCOMES), and, only when `count > 0`, `latency.{mean,p50,p90,p99,max}` in ms and the
 * cumulative bucket counters `latency.le_<ms>` … `latency.le_inf` (when the snapshot has them); then
 * the results' own samples (a counter's sum, a gauge's last value, a timing's distribution).
 */
export function graphiteIntervalPoints(prefix: string, snapshot: IntervalSnapshot): GraphitePoint[] {
  const at = (name: string) => testMetricName(prefix, snapshot.test, name);
  const points: GraphitePoint[] = [
    { path: at('count'), value: snapshot.count },
    ...OUTCOMES.map((o) => ({ path: at(o), value: snapshot[o] })),
  ];
  const distribution = (name: string, d: LatencySummary) => DISTRIBUTION.map((f) => ({ path: at(`${name}.${f}`), value: d[f] }));
  if (snapshot.count > 0 && snapshot.latency) points.push(...distribution('latency', snapshot.latency));
  const le = snapshot.count > 0 ? snapshot.le : undefined;
  if (le) LATENCY_BUCKET_NAMES.forEach((name, i) => points.push({ path: at(name), value: le[i] ?? 0 }));
  for (const s of snapshot.samples ?? []) {
    if (s.kind === 'timing') points.push(...distribution(s.name, s.summary));
    else points.push({ path: at(s.name), value: s.value });
  }
  return points;
}
