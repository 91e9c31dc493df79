/**
 * End to end: a real run whose Graphite was down (a closed port) keeps its figures in the journal only;
 * `canihaz replay` then sends them to Debian's carbon-cache (test/support/real-servers.ts), and the
 * whisper files must hold every interval of the journal, value for value, and nothing else.
 *
 * Under `CANIHAZ_E2E=1` a missing carbon fails this test; elsewhere it is skipped with the reason in its title.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKET_NAMES } from '../../src/events.js';
import { readJournal } from '../../src/journal/reader.js';
import { shortHostname } from '../../src/metrics/names.js';
import { agentHome, cleanups, runCli, startTarget } from '../support/cli.js';
import { freePort } from '../support/listeners.js';
import { carbonMissing, e2eGate, startCarbon } from '../support/real-servers.js';

const cleanup = cleanups();

const gate = e2eGate('replay into the real carbon-cache after a run whose Graphite was down: the whisper files hold every interval, equal to the journal', carbonMissing());

describe('replay end to end (real carbon-cache)', () => {
  it.skipIf(gate.skip)(
    gate.title,
    async () => {
      const target = await startTarget((req, res) => {
        if (req.url === '/search' && Math.random() < 0.25) res.statusCode = 500;
        res.end('ok');
      });
      cleanup(target.close);
      const carbon = await startCarbon();
      cleanup(carbon.stop);
      const down = await freePort();
      const home = await agentHome();
      const stateDir = join(home.dir, 'state');
      await mkdir(stateDir);
      const dest = `graphite://127.0.0.1:${down}`;
      await home.writeConfig(`home|http|600|${dest}|url=${target.url}/home\nsearch|http|300|${dest}|url=${target.url}/search\n`);

      // 11 s: the window crosses at least one 10-second boundary, so there are several intervals.
      const startedMs = Date.now();
      const run = await runCli(['run', ...home.args, '--state-dir', stateDir, '--lifetime', '11'], { killAfterMs: 40_000 });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(dest);

      const replay = await runCli(['replay', '--settings', home.settings, '--state-dir', stateDir, '--to', carbon.destination, '--since', '10m'], { killAfterMs: 60_000 });
      expect(replay.code, replay.stderr).toBe(0);
      const sent = Number(/^sent (\d+) points of (\d+) intervals \(2 tests, 1 run[;)]/.exec(replay.stdout)?.[1]);

      // What the journal holds, as the README says a record maps to Graphite points.
      const journal = await readJournal(join(stateDir, 'journal'), startedMs - 60_000, Date.now() + 1);
      const prefix = `canihaz.${shortHostname(hostname())}`;
      const expected = new Map<string, Map<number, number>>();
      const put = (path: string, ts: number, value: number) => {
        const byTs = expected.get(path) ?? new Map<number, number>();
        byTs.set(ts, value);
        expected.set(path, byTs);
      };
      let points = 0;
      for (const r of journal.intervals) {
        if (r.ok + r.failed + r.dropped + r.missed + r.aborted === 0) continue;
        const ts = r.start / 1000;
        const at = (name: string, v: number) => (put(`${prefix}.${r.test}.${name}`, ts, v), (points += 1));
        at('count', r.ok + r.failed);
        for (const o of ['ok', 'failed', 'dropped', 'missed', 'aborted'] as const) at(o, r[o]);
        if (r.latency) for (const f of ['mean', 'p50', 'p90', 'p99', 'max'] as const) at(`latency.${f}`, r.latency[f]);
        // The cumulative latency counters (issue 11 item 5), kept in the record's `le`.
        if (r.le) LATENCY_BUCKET_NAMES.forEach((name, i) => at(name, r.le![i]!));
      }
      expect(journal.intervals.filter((r) => r.test === 'home' && r.ok > 0).length).toBeGreaterThanOrEqual(2);
      // More when an interval was re-written after late completions: both versions are sent, the last one stays.
      expect(sent).toBeGreaterThanOrEqual(points);

      const until = Math.ceil(Date.now() / 1000) + 1;
      const from = Math.floor(startedMs / 10_000) * 10 - 10;
      const stored = await carbon.settle({
        under: prefix,
        require: [...expected.keys()],
        from,
        until,
        expect: (got) => [...expected].every(([path, byTs]) => got.get(path)?.length === byTs.size),
      });
      expect([...stored.keys()].sort(), 'every path of the journal, and nothing else').toEqual([...expected.keys()].sort());
      for (const [path, byTs] of expected) {
        const got = new Map(stored.get(path)!.map((p) => [p.timestamp, p.value]));
        expect([...got.keys()].sort(), `${path}: the journal's intervals`).toEqual([...byTs.keys()].sort());
        for (const [ts, value] of byTs) expect(got.get(ts), `${path} @${ts}`).toBeCloseTo(value, 6);
      }
    },
    120_000,
  );
});
