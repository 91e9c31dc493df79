/**
 * End to end against real metric servers: the real CLI (`canihaz run --lifetime`) probes a local HTTP
 * target and reports to the etsy statsd daemon and to Debian's carbon-cache, both started here on free
 * loopback ports (test/support/real-servers.ts). What the target counted must equal what StatsD
 * aggregated and what the whisper files hold, using the metric names the README documents.
 *
 * Under `CANIHAZ_E2E=1` (set by .ci/run) a missing server fails these tests; elsewhere they are skipped
 * with the reason in their title.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKET_NAMES } from '../../src/events.js';
import { shortHostname } from '../../src/metrics/names.js';
import { agentHome, cleanups, runCli, startTarget, type CliResult, type TargetServer } from '../support/cli.js';
import {
  carbonMissing,
  e2eGate,
  startCarbon,
  startRealStatsd,
  statsdMissing,
  type RealCarbon,
  type RealStatsd,
  type WhisperPoint,
} from '../support/real-servers.js';

const cleanup = cleanups();
const INTERVAL_S = 10;

/** A target: `/ok` answers 200, `/fail` answers 500, `/hang` never answers. */
async function target(): Promise<TargetServer> {
  const t = await startTarget((req, res) => {
    if (req.url?.startsWith('/fail')) {
      res.statusCode = 500;
      res.end('broken');
    } else if (req.url?.startsWith('/hang')) {
      // never answers; the probe's timeout ends it and close() drops the connection
    } else {
      res.end('ok');
    }
  });
  cleanup(t.close);
  return t;
}

async function statsd(protocol: 'udp' | 'tcp'): Promise<RealStatsd> {
  const s = await startRealStatsd({ protocol });
  cleanup(s.stop);
  return s;
}

async function carbon(): Promise<RealCarbon> {
  const c = await startCarbon();
  cleanup(c.stop);
  return c;
}

/** The summary figures of one test, from the run's `msg=summary` log line. */
function summaryOf(result: CliResult, test: string): Record<string, number> {
  const line = result.stderr.split('\n').find((l) => l.includes('msg=summary') && l.includes(` test=${test} `));
  if (!line) throw new Error(`no summary line for ${test} in:\n${result.stderr}`);
  const figures: Record<string, number> = {};
  for (const [, key, value] of line.matchAll(/(\w+)=(\d+(?:\.\d+)?)(?=\s|$)/g)) figures[key!] = Number(value);
  return figures;
}

const sum = (points: WhisperPoint[] | undefined) => (points ?? []).reduce((s, p) => s + p.value, 0);

const counts = e2eGate(
  'target = StatsD aggregates = whisper files, for ok and failed by reason; latency plausible in both',
  statsdMissing(),
  carbonMissing(),
);
const overTcp = e2eGate('statsd+tcp:// to the real etsy StatsD TCP server: target = StatsD aggregates', statsdMissing());

describe('metrics end to end (real etsy statsd, real carbon-cache)', () => {
  it.skipIf(counts.skip)(
    counts.title,
    async () => {
      const server = await target();
      const sd = await statsd('udp');
      const graphite = await carbon();
      const home = await agentHome();
      const dest = `${sd.destination},${graphite.destination}`;
      await home.writeConfig(
        [
          `ok_path|http|600|${dest}|url=${server.url}/ok`,
          `fail_path|http|300|${dest}|url=${server.url}/fail`,
          `slow_path|http|120|${dest}|url=${server.url}/hang|timeout=300ms`,
        ].join('\n') + '\n',
      );

      // 11 s: the window always crosses a 10-second boundary, so Graphite must be summed over intervals.
      const startedSec = Math.floor(Date.now() / 1000);
      const result = await runCli(['run', ...home.args, '--lifetime', '11'], { killAfterMs: 40_000 });
      const endedSec = Math.ceil(Date.now() / 1000);
      expect(result.code, result.stderr).toBe(0);

      // The target's own count, per test, is the truth; the run's books agree with it.
      const arrived = { ok_path: server.count('/ok'), fail_path: server.count('/fail'), slow_path: server.count('/hang') };
      const planned = { ok_path: 110, fail_path: 55, slow_path: 22 };
      for (const [test, n] of Object.entries(arrived)) {
        const s = summaryOf(result, test);
        expect({ test, requested: s.requested, started: s.started, dropped: s.dropped, missed: s.missed }).toEqual({
          test,
          requested: planned[test as keyof typeof planned],
          started: n,
          dropped: 0,
          missed: 0,
        });
      }

      // StatsD: two more flushes after the CLI exited, so every datagram it sent is aggregated.
      await sd.settle(2);
      expect(sd.flushes.some((f) => 'statsd.bad_lines_seen' in f.counters), 'statsd reports its bad-line counter').toBe(true);
      expect(sd.counter('statsd.bad_lines_seen')).toBe(0);
      expect(sd.counter('canihaz.ok_path.ok')).toBe(arrived.ok_path);
      expect(sd.counter('canihaz.ok_path.failed')).toBe(0);
      expect(sd.counter('canihaz.fail_path.ok')).toBe(0);
      expect(sd.counter('canihaz.fail_path.failed')).toBe(arrived.fail_path);
      expect(sd.counter('canihaz.fail_path.failed.status_500')).toBe(arrived.fail_path);
      expect(sd.counter('canihaz.slow_path.failed')).toBe(arrived.slow_path);
      expect(sd.counter('canihaz.slow_path.failed.timeout')).toBe(arrived.slow_path);
      const failedReasons = sd.counterNames().filter((n) => /^canihaz\.\w+\.failed\./.test(n));
      expect(failedReasons).toEqual(['canihaz.fail_path.failed.status_500', 'canihaz.slow_path.failed.timeout']);
      for (const test of ['ok_path', 'fail_path', 'slow_path'] as const) {
        for (const counter of ['dropped', 'missed', 'aborted']) expect(sd.counter(`canihaz.${test}.${counter}`)).toBe(0);
        expect(sd.timer(`canihaz.${test}.latency`)?.count, `${test} latency timings`).toBe(arrived[test]);
        expect(sd.timer(`canihaz.${test}.lag`)?.count, `${test} lag timings`).toBe(arrived[test]);
      }
      const okLatency = sd.timer('canihaz.ok_path.latency')!;
      expect(okLatency.lower).toBeGreaterThanOrEqual(0);
      expect(okLatency.mean).toBeGreaterThan(0);
      expect(okLatency.mean).toBeLessThanOrEqual(okLatency.upper);
      expect(okLatency.upper, 'a loopback 200 takes well under a second').toBeLessThan(1_000);
      const slowLatency = sd.timer('canihaz.slow_path.latency')!;
      expect(slowLatency.lower, 'a timeout=300ms execution lasts its timeout').toBeGreaterThanOrEqual(290);
      expect(slowLatency.upper).toBeLessThan(300 + 1_500);
      // The cumulative latency counters (issue 11 item 5): le_inf counts every completed execution,
      // each bound at least as many as the one below it; a 300 ms timeout is never within 250 ms.
      for (const test of ['ok_path', 'fail_path', 'slow_path'] as const) {
        const le = LATENCY_BUCKET_NAMES.map((n) => sd.counter(`canihaz.${test}.${n}`));
        expect(le.at(-1), `${test} le_inf`).toBe(arrived[test]);
        expect([...le].sort((a, b) => a - b), `${test} cumulative`).toEqual(le);
      }
      expect(sd.counter('canihaz.slow_path.latency.le_250')).toBe(0);
      expect(sd.counter('canihaz.ok_path.latency.le_1000')).toBe(arrived.ok_path);

      // Graphite: points are stamped with the start of their 10-second interval, under <prefix>.{host}.
      const prefix = `canihaz.${shortHostname(hostname())}`;
      const latencyStats = ['mean', 'p50', 'p90', 'p99', 'max'];
      const required = ['ok_path', 'fail_path', 'slow_path'].flatMap((t) => [
        ...['count', 'ok', 'failed', 'dropped', 'missed', 'aborted'].map((m) => `${prefix}.${t}.${m}`),
        ...latencyStats.map((s) => `${prefix}.${t}.latency.${s}`),
        ...LATENCY_BUCKET_NAMES.map((n) => `${prefix}.${t}.${n}`),
      ]);
      const firstInterval = Math.floor(startedSec / INTERVAL_S) * INTERVAL_S;
      const stored = await graphite.settle({
        under: 'canihaz',
        require: required,
        from: firstInterval - INTERVAL_S,
        until: endedSec + 1,
        expect: (points) => Object.entries(arrived).every(([test, n]) => sum(points.get(`${prefix}.${test}.count`)) === n),
      });
      expect([...stored.keys()].sort(), 'every path under canihaz.*, and nothing else').toEqual([...required].sort());
      for (const [path, points] of stored) {
        for (const p of points) {
          expect(p.timestamp % INTERVAL_S, `${path} @${p.timestamp} is an interval start`).toBe(0);
          expect(p.timestamp, `${path} @${p.timestamp}`).toBeGreaterThanOrEqual(firstInterval);
          expect(p.timestamp, `${path} @${p.timestamp}`).toBeLessThanOrEqual(endedSec);
        }
      }
      const at = (test: string, metric: string) => stored.get(`${prefix}.${test}.${metric}`);
      for (const test of ['ok_path', 'fail_path', 'slow_path'] as const) {
        expect(at(test, 'count')!.filter((p) => p.value > 0).length, `${test}: intervals with executions`).toBeGreaterThanOrEqual(2);
        expect(sum(at(test, 'count')), `${test}.count summed over intervals`).toBe(arrived[test]);
        for (const m of ['dropped', 'missed', 'aborted']) expect(sum(at(test, m)), `${test}.${m}`).toBe(0);
      }
      expect(sum(at('ok_path', 'ok'))).toBe(arrived.ok_path);
      expect(sum(at('ok_path', 'failed'))).toBe(0);
      expect(sum(at('fail_path', 'ok'))).toBe(0);
      expect(sum(at('fail_path', 'failed'))).toBe(arrived.fail_path);
      expect(sum(at('slow_path', 'failed'))).toBe(arrived.slow_path);

      // Latency: present for every interval that counted executions, ordered, and in agreement with
      // StatsD's aggregate of the same executions (values are sent rounded to 1 µs).
      for (const test of ['ok_path', 'fail_path', 'slow_path'] as const) {
        const counts = new Map(at(test, 'count')!.filter((p) => p.value > 0).map((p) => [p.timestamp, p.value]));
        const stat = (s: string) => new Map(at(test, `latency.${s}`)!.map((p) => [p.timestamp, p.value]));
        const [mean, p50, p90, p99, max] = latencyStats.map(stat) as [Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>];
        expect([...max.keys()].sort(), `${test} latency intervals`).toEqual([...counts.keys()].sort());
        for (const ts of counts.keys()) {
          expect(p50.get(ts)!, `${test} p50 <= p90 @${ts}`).toBeLessThanOrEqual(p90.get(ts)!);
          expect(p90.get(ts)!).toBeLessThanOrEqual(p99.get(ts)!);
          expect(p99.get(ts)!).toBeLessThanOrEqual(max.get(ts)!);
          expect(mean.get(ts)!).toBeLessThanOrEqual(max.get(ts)! + 0.001);
          expect(mean.get(ts)!).toBeGreaterThan(0);
        }
        const timer = sd.timer(`canihaz.${test}.latency`)!;
        const weightedMean = [...counts].reduce((s, [ts, n]) => s + n * mean.get(ts)!, 0) / arrived[test];
        expect(Math.abs(weightedMean - timer.mean), `${test}: Graphite's mean ${weightedMean} vs StatsD's ${timer.mean}`).toBeLessThan(0.01);
        expect(Math.abs(Math.max(...max.values()) - timer.upper), `${test}: Graphite's max vs StatsD's upper ${timer.upper}`).toBeLessThan(0.002);
        // The whisper files hold the cumulative counters of each of those intervals: le_inf is its count,
        // and summed over the intervals each bound equals StatsD's counter of the same executions.
        const leInf = new Map(at(test, 'latency.le_inf')!.map((p) => [p.timestamp, p.value]));
        expect(leInf, `${test} le_inf = count per interval`).toEqual(counts);
        for (const n of LATENCY_BUCKET_NAMES) expect(sum(at(test, n)), `${test}.${n} in whisper vs StatsD`).toBe(sd.counter(`canihaz.${test}.${n}`));
      }
    },
    90_000,
  );

  it.skipIf(overTcp.skip)(
    overTcp.title,
    async () => {
      const server = await target();
      const sd = await statsd('tcp');
      const home = await agentHome();
      await home.writeConfig(
        `tcp_ok|http|1200|${sd.destination}|url=${server.url}/ok\ntcp_fail|http|600|${sd.destination}|url=${server.url}/fail\n`,
      );
      const result = await runCli(['run', ...home.args, '--lifetime', '3'], { killAfterMs: 30_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(server.count('/ok')).toBe(60);
      expect(server.count('/fail')).toBe(30);

      await sd.settle(2);
      expect(sd.counter('statsd.bad_lines_seen')).toBe(0);
      expect(sd.counter('canihaz.tcp_ok.ok')).toBe(server.count('/ok'));
      expect(sd.counter('canihaz.tcp_ok.failed')).toBe(0);
      expect(sd.counter('canihaz.tcp_fail.failed')).toBe(server.count('/fail'));
      expect(sd.counter('canihaz.tcp_fail.failed.status_500')).toBe(server.count('/fail'));
      expect(sd.timer('canihaz.tcp_ok.latency')?.count).toBe(server.count('/ok'));
      expect(sd.timer('canihaz.tcp_fail.latency')?.count).toBe(server.count('/fail'));
      expect(sd.timer('canihaz.tcp_ok.latency')!.upper).toBeLessThan(1_000);
    },
    60_000,
  );
});
