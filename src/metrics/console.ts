/**
 * The console sink: the Graphite sink's per-interval figures as one readable line per test per
 * interval, for `metrics_destination=console` and for trying a config by hand.
 */
import type { Clock } from '../clock.js';
import { createIntervalFlusher } from './interval-flusher.js';
import { createIntervalAggregator, DEFAULT_INTERVAL_MS, type AgentIntervalSnapshot, type IntervalSnapshot } from './intervals.js';
import { OUTCOMES, type AgentCounter, type MetricEvent } from '../events.js';
import { metricSegment } from './names.js';
import type { MetricSink } from './sink.js';

export interface ConsoleSinkOptions {
  /** Wall clock for interval boundaries and agent counters. */
  clock: Clock;
  /** Where each line goes (without a trailing newline). Default: stdout. */
  write?: (line: string) => void;
  /** Interval length, ms. Default 10 000. */
  intervalMs?: number;
}

/**
 * Creates a console sink. An interval is printed one interval after it ends, so executions still in
 * flight at its end are usually in its line; one that completes later still is, in a second line for
 * the same interval with the final figures. `stop` prints everything not yet printed.
 */
export function createConsoleSink(options: ConsoleSinkOptions): MetricSink {
  const { clock } = options;
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const aggregator = createIntervalAggregator({ intervalMs });
  let stopped = false;

  const print = (before: number | undefined) => {
    try {
      const tests = aggregator.takeDirty(before);
      const agent = aggregator.takeDirtyAgent(before);
      for (const s of tests) write(formatIntervalLine(s));
      for (const line of formatAgentLines(agent)) write(line);
    } catch {
      // A closed stdout must not take the agent down.
    }
  };
  const flusher = createIntervalFlusher({ clock, intervalMs, onBoundary: (boundary) => print(boundary - intervalMs) });

  return {
    name: 'console',
    async start() {
      if (!stopped) flusher.start();
    },
    record(event: MetricEvent) {
      if (!stopped) aggregator.add(event);
    },
    recordAgent(counter: AgentCounter) {
      if (!stopped) aggregator.addAgent(counter, clock.wallNow());
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      flusher.stop();
      print(undefined);
    },
  };
}

/**
 * One test's interval as a line, e.g.
 * `2026-11-22T12:00:10.000Z test=home count=20 ok=20 failed=0 dropped=0 missed=0 aborted=0 latency_mean=1.21 p50=1.10 p90=1.50 p99=2.00 max=2.31`;
 * the time is the interval start, outcomes in OUTCOMES order, latencies in ms and left out when
 * `count` is 0; then the results' own samples (`name=value`, a timing as `name_p50=… name_p99=…`).
 */
export function formatIntervalLine(s: IntervalSnapshot): string {
  let line = `${new Date(s.startWallMs).toISOString()} test=${metricSegment(s.test)} count=${s.count} ${OUTCOMES.map((o) => `${o}=${s[o]}`).join(' ')}`;
  if (s.count > 0 && s.latency) {
    const l = s.latency;
    line += ` latency_mean=${l.mean.toFixed(2)} p50=${l.p50.toFixed(2)} p90=${l.p90.toFixed(2)} p99=${l.p99.toFixed(2)} max=${l.max.toFixed(2)}`;
  }
  for (const sample of s.samples ?? []) {
    const name = sample.name.split('.').map(metricSegment).join('.');
    line += sample.kind === 'timing' ? ` ${name}_p50=${sample.summary.p50.toFixed(2)} ${name}_p99=${sample.summary.p99.toFixed(2)}` : ` ${name}=${sample.value}`;
  }
  return line;
}

/** Agent counters as one line per interval, e.g. `2026-11-22T12:00:10.000Z agent skipped=1`. */
export function formatAgentLines(snapshots: readonly AgentIntervalSnapshot[]): string[] {
  const byStart = new Map<number, string[]>();
  for (const a of snapshots) {
    const parts = byStart.get(a.startWallMs) ?? [];
    parts.push(`${metricSegment(a.name)}=${a.value}`);
    byStart.set(a.startWallMs, parts);
  }
  return [...byStart].map(([start, parts]) => `${new Date(start).toISOString()} agent ${parts.join(' ')}`);
}
