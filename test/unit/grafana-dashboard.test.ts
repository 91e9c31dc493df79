/**
 * conf/grafana/canihaz-fleet.json: it parses, its variables are there, and every metric path its
 * targets use is a path canihaz sends — the Graphite sink's (`graphiteIntervalPoints`,
 * `agentMetricName` under the default `<prefix>.{host}`) or, for failures by reason, StatsD's
 * (`statsdTestNames(...).failedReason`) as the etsy statsd writes it into Graphite — for a sample
 * host and test. A rename in src/metrics/names.ts breaks this test until the dashboard follows.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKET_NAMES } from '../../src/events.js';
import { agentMetricName, defaultGraphitePrefix, expandPrefix, graphiteIntervalPoints, statsdTestNames } from '../../src/metrics/names.js';

const FILE = fileURLToPath(new URL('../../conf/grafana/canihaz-fleet.json', import.meta.url));

interface Panel {
  type: string;
  title: string;
  description?: string;
  targets?: { target: string }[];
  repeat?: string;
}
interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string }[] };
}

const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;

/** The sample: host web-1, test home, default prefixes. */
const HOST = 'web-1.example.com';
const TEST = 'home';
const graphitePrefix = expandPrefix(defaultGraphitePrefix('canihaz'), HOST);
const SENT = [
  ...graphiteIntervalPoints(graphitePrefix, {
    test: TEST,
    startWallMs: 0,
    count: 2,
    ok: 1,
    failed: 1,
    dropped: 0,
    missed: 0,
    aborted: 0,
    latency: { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 },
    le: LATENCY_BUCKET_NAMES.map(() => 2),
  }).map((p) => p.path),
  agentMetricName(graphitePrefix, 'skipped'),
  // StatsD's counter for a failure reason, as the etsy statsd writes its per-second rate (legacy namespace).
  `stats.${statsdTestNames('canihaz', TEST).failedReason('status_503')}`,
];
/** What each variable stands for in the sample. */
const VARIABLES: Record<string, string> = { prefix: 'canihaz', test: TEST, statsd_rates: 'stats', statsd_prefix: 'canihaz' };

/** The metric paths in a Graphite target: the unquoted arguments that start with a variable. */
function pathsOf(target: string): string[] {
  return target.match(/\$(?:prefix|statsd_rates)(?:\.[\w$*-]+)+/g) ?? [];
}

/** A path pattern with the sample's variables, as a regular expression (`*`: one segment). */
function patternOf(path: string): RegExp {
  const expanded = path.replace(/\$(\w+)/g, (_, name: string) => {
    expect(VARIABLES, `variable $${name} in ${path}`).toHaveProperty(name);
    return VARIABLES[name]!;
  });
  return new RegExp(`^${expanded.split('.').map((s) => (s === '*' ? '[^.]+' : s.replace(/[-]/g, '\\-'))).join('\\.')}$`);
}

describe('conf/grafana/canihaz-fleet.json', () => {
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, target: t.target })));

  it('is a dashboard with its variables and a repeated row per test', () => {
    expect(dashboard.uid).toBe('canihaz-fleet');
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'prefix', 'test', 'statsd_rates', 'statsd_prefix']);
    expect(dashboard.panels.some((p) => p.type === 'row' && p.repeat === 'test')).toBe(true);
    expect(targets.length).toBeGreaterThan(8);
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) expect(p.description?.length, p.title).toBeGreaterThan(20);
  });

  it.each(targets.map((t) => [t.panel, t.target] as const))('%s: %s uses only paths canihaz sends', (_, target) => {
    const paths = pathsOf(target);
    expect(paths.length, target).toBeGreaterThan(0);
    for (const path of paths) {
      const pattern = patternOf(path);
      expect(SENT.filter((name) => pattern.test(name)), `${path} (${pattern}) matches none of ${SENT.join(', ')}`).not.toEqual([]);
    }
  });

  it('shows every figure the Graphite sink sends per test, and latency only per host', () => {
    const used = new Set(targets.flatMap((t) => pathsOf(t.target)).map((p) => p.replace(/^\$prefix\.\*\.\$test\./, '')));
    for (const figure of ['ok', 'failed', 'count', 'dropped', 'missed', 'aborted', 'latency.p50', 'latency.p99', 'latency.max']) expect(used, figure).toContain(figure);
    // Percentiles of several hosts cannot be summed or averaged: no sumSeries/averageSeries over a percentile.
    for (const { target } of targets) expect(target, target).not.toMatch(/(sumSeries|averageSeries|avg)\([^)]*latency\.p\d+/);
  });

  it('reads the fleet latency from the cumulative counters summed over hosts: every bound in the distribution, le_inf as the whole', () => {
    const heatmap = dashboard.panels.find((p) => p.type === 'heatmap');
    expect(heatmap?.title).toMatch(/latency distribution \(fleet\)/);
    const used = (p: Panel | undefined) => new Set((p?.targets ?? []).flatMap((t) => pathsOf(t.target)));
    expect([...used(heatmap)].sort()).toEqual(LATENCY_BUCKET_NAMES.map((n) => `$prefix.*.$test.${n}`).sort());
    // One bucket per bound: the first bound as is, every other one as the difference from the bound below it, aliased by its bound.
    expect(heatmap!.targets!.map((t) => /'([^']+)'\)$/.exec(t.target)?.[1])).toEqual(['1', '2', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '+Inf']);
    for (const p of dashboard.panels.filter((x) => (x.targets ?? []).some((t) => t.target.includes('.le_')))) {
      // Counters add up across hosts: every le_ path is inside a sumSeries, never per host.
      for (const { target } of p.targets!) for (const path of pathsOf(target)) expect(target, p.title).toContain(`sumSeries(${path})`);
    }
    const share = dashboard.panels.find((p) => /share of executions within/.test(p.title));
    expect(share?.targets?.map((t) => t.target)).toContain("alias(asPercent(sumSeries($prefix.*.$test.latency.le_100), sumSeries($prefix.*.$test.latency.le_inf)), '≤ 100 ms')");
    expect(dashboard.panels.some((p) => /fleet p99/.test(p.title))).toBe(true);
  });
});
