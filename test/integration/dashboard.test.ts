/**
 * `canihaz dashboard` over HTTP, for real: the CLI (dist/cli.js) serves a journal left by two real
 * `canihaz run --lifetime 2` against a real HTTP target on port 0. Types, security headers, 404/405,
 * the API equal to `summariseJournal` and to `canihaz report --format json`, ranges, bad parameters,
 * limits, a busy port, a non-loopback address, and a prompt exit on SIGTERM. The page in a browser:
 * dashboard-browser.test.ts.
 */
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { createReportSource, RangeTooLarge } from '../../src/dashboard/report-source.js';
import { readJournal } from '../../src/journal/reader.js';
import { summariseJournal, type TestReport } from '../../src/journal/report-data.js';
import { runCli, spawnCli, waitFor } from '../support/cli.js';
import { realJournal, startDashboard, type ApiError, type ApiReport, type ApiRuns, type Dashboard, type RealJournal } from '../support/dashboard.js';

const KILL_AFTER_MS = 60_000;

let journal: RealJournal;
let dash: Dashboard;

beforeAll(async () => {
  journal = await realJournal();
  dash = await startDashboard(journal.home, journal.home.dir);
}, 60_000);

afterAll(async () => {
  if (dash) {
    const r = await dash.stop();
    // SIGTERM: the server closes and the command exits 0, promptly.
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(3_000);
  }
  await journal?.target.close();
  if (journal) rmSync(journal.home.dir, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(dash.base + path, init);
async function getJson<T = ApiReport>(path: string): Promise<{ status: number; body: T }> {
  const r = await get(path);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: r.status, body: (await r.json()) as T };
}

describe('canihaz dashboard over HTTP', () => {
  it('serves the page, its script and style and uPlot with their types and the security headers, and no CORS', async () => {
    const uplotDir = join(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'), '..');
    const cases: [string, string, Buffer | undefined][] = [
      ['/', 'text/html; charset=utf-8', undefined],
      ['/assets/dashboard.js', 'text/javascript; charset=utf-8', undefined],
      ['/assets/dashboard.css', 'text/css; charset=utf-8', undefined],
      ['/assets/uPlot.iife.min.js', 'text/javascript; charset=utf-8', readFileSync(join(uplotDir, 'uPlot.iife.min.js'))],
      ['/assets/uPlot.min.css', 'text/css; charset=utf-8', readFileSync(join(uplotDir, 'uPlot.min.css'))],
    ];
    for (const [path, type, same] of cases) {
      const r = await get(path, { headers: { Origin: 'http://example.com' } });
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toBe(type);
      expect(r.headers.get('content-security-policy'), path).toMatch(/^default-src 'self'(;|$)/);
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('access-control-allow-origin'), path).toBeNull();
      const body = Buffer.from(await r.arrayBuffer());
      if (same) expect(body.equals(same), path).toBe(true);
    }
    const html = await (await get('/')).text();
    // No inline script or style: every <script> has a src, and there is no <style> or style="".
    expect(html.match(/<script\b[^>]*>/g)!.every((tag) => /\ssrc="\/assets\//.test(tag))).toBe(true);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('answers 404 to anything else and 405 to any method but GET and HEAD', async () => {
    for (const path of ['/nope', '/assets/', '/assets/../package.json', '/api', '/api/report/x']) expect((await get(path)).status, path).toBe(404);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/', '/api/report']) {
        const r = await get(path, { method, headers: { Origin: 'http://example.com' } });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.get('allow')).toBe('GET, HEAD');
        expect(r.headers.get('access-control-allow-origin')).toBeNull();
      }
    }
    const head = await get('/api/report', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses a request for a host name that is not loopback (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(dash.base + '/api/report', { headers: { Host: 'attacker.example:3210' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('GET /api/report is summariseJournal of the range, as `canihaz report --format json` prints it, plus the series', async () => {
    const { status, body } = await getJson('/api/report?since=1h');
    expect(status).toBe(200);
    const from = Date.parse(body.from);
    const to = Date.parse(body.to);
    expect(to - from).toBe(3_600_000);
    const { series, journal: where, ...report } = body;
    const range = await readJournal(join(journal.home.dir, 'journal'), from, to);
    expect(report).toEqual(summariseJournal(range, { from, to }));
    const cli = await runCli(['report', '--settings', journal.home.settings, '--state-dir', journal.home.dir, '--from', body.from, '--to', body.to, '--format', 'json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(report).toEqual(JSON.parse(cli.stdout));
    expect(where).toEqual({ dir: join(journal.home.dir, 'journal'), files: range.files.length, skippedLines: 0 });

    // The journal's books: what the target counted.
    const byTest: Record<string, TestReport> = Object.fromEntries(report.tests.map((t) => [t.test, t]));
    expect(Object.keys(byTest)).toEqual(['flaky', 'home']);
    expect(byTest.home!.ok + byTest.home!.failed).toBe(journal.target.count('/home'));
    expect(byTest.flaky!.ok + byTest.flaky!.failed).toBe(journal.target.count('/flaky'));
    expect(byTest.flaky!.failures).toEqual({ status_503: journal.failedAtTarget() });
    expect(report.runs).toHaveLength(2);

    // The series: minute buckets over the hour, adding up to the report's books, latency where executions completed.
    expect(series.bucketSeconds).toBe(60);
    expect(series.t.length).toBeGreaterThanOrEqual(60);
    expect(series.t.length).toBeLessThanOrEqual(61);
    for (const s of series.tests) {
      const t = byTest[s.test]!;
      const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
      expect([sum(s.ok), sum(s.failed)]).toEqual([t.ok, t.failed]);
      for (const k of ['ok', 'failed', 'p50', 'p99'] as const) expect(s[k]).toHaveLength(series.t.length);
      s.ok.forEach((n, i) => {
        expect(s.p50[i] === null, `bucket ${i}`).toBe(n + s.failed[i]! === 0);
        if (s.p50[i] !== null) expect(s.p99[i]).toBeGreaterThanOrEqual(s.p50[i]!);
      });
    }
  });

  it('sizes the buckets to the range, takes from/to, and a range before the runs is empty', async () => {
    expect((await getJson('/api/report?since=24h')).body.series.bucketSeconds).toBe(600);
    const week = (await getJson('/api/report?since=7d')).body;
    expect(week.series.bucketSeconds).toBe(3600);
    expect(week.series.t.length).toBeLessThanOrEqual(169);
    expect(week.tests.map((t) => t.test)).toEqual(['flaky', 'home']);
    const first = (await getJson('/api/report?since=1h')).body.runs[0]!;
    const start = Date.parse(first.start);
    const fromTo = (await getJson(`/api/report?from=${new Date(start - 60_000).toISOString()}&to=${new Date(start + 3_600_000).toISOString()}`)).body;
    expect(fromTo.from).toBe(new Date(start - 60_000).toISOString());
    expect(fromTo.tests).toHaveLength(2);
    const before = (await getJson(`/api/report?from=${new Date(start - 7_200_000).toISOString()}&to=${new Date(start - 3_600_000).toISOString()}`)).body;
    expect([before.tests, before.runs, before.series.tests]).toEqual([[], [], []]);
    const only = (await getJson('/api/report?since=1h&test=home')).body;
    expect(only.tests.map((t) => t.test)).toEqual(['home']);
  });

  it('answers bad parameters with 400 and a message naming each', async () => {
    const cases: [string, RegExp][] = [
      ['since=2y', /since: expected a duration such as 1h, 24h or 7d/],
      ['since=8d', /since: must be at most 7d/],
      ['from=2026-11-23T10:00:00', /from: expected an ISO 8601 time with its zone/],
      ['to=2026-11-23T10:00:00Z', /from: needed with to/],
      ['from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z', /from: must be before to/],
      ['since=1h&from=2026-11-23T10:00:00Z', /give either since or from and to/],
      ['limit=0', /limit: expected a whole number from 1 to 1000, got "0"/],
      ['limit=abc', /limit: expected a whole number/],
      ['bogus=1', /bogus: unknown parameter/],
      ['since=1h&since=24h', /since: given more than once/],
    ];
    for (const [q, message] of cases) {
      const { status, body } = await getJson<ApiError>(`/api/report?${q}`);
      expect(status, q).toBe(400);
      expect(body.error, q).toMatch(message);
    }
    const both = (await getJson<ApiError>('/api/runs?since=2y&limit=0')).body;
    expect(both.problems).toHaveLength(2);
  });

  it('lists the recent runs with a limit: /api/runs and /api/report?limit=', async () => {
    const all = (await getJson<ApiRuns>('/api/runs?since=1h&limit=1000')).body;
    expect(all.total).toBe(2);
    expect(all.runs.map((r) => r.ended)).toEqual(['window end', 'window end']);
    const last = (await getJson<ApiRuns>('/api/runs?since=1h&limit=1')).body;
    expect(last).toMatchObject({ total: 2, runs: [all.runs[1]] });
    const report = (await getJson('/api/report?since=1h&limit=1')).body;
    expect(report.runsTotal).toBe(2);
    expect(report.runs).toEqual([all.runs[1]]);
  });

  it('refuses a range whose journal files are larger than it reads at once, saying how large', async () => {
    const source = createReportSource({ dir: join(journal.home.dir, 'journal'), clock: systemClock, maxReadBytes: 100 });
    const query = { from: Date.now() - 3_600_000, to: Date.now(), key: 'k', tests: [], limit: undefined };
    await expect(source.get(query)).rejects.toThrow(RangeTooLarge);
    await expect(source.get(query)).rejects.toThrow(/^the journal files of this range hold \d+ MB, more than the dashboard reads at once \(0 MB\): choose a shorter range/);
    const fine = await createReportSource({ dir: join(journal.home.dir, 'journal'), clock: systemClock }).get(query);
    expect(fine.tests).toHaveLength(2);
  });

  it('a port in use is exit 69 naming the address; a bad --listen is a usage error (64); a non-loopback address warns', async () => {
    const port = new URL(dash.base).port;
    const busy = await runCli(['dashboard', '--settings', journal.home.settings, '--state-dir', journal.home.dir, '--listen', `127.0.0.1:${port}`]);
    expect(busy.code).toBe(69);
    expect(busy.stderr).toContain(`canihaz: --listen 127.0.0.1:${port}: address already in use`);
    for (const bad of ['3210', 'example.com:3210', '127.0.0.1:70000', '[zz]:1']) {
      const r = await runCli(['dashboard', '--settings', journal.home.settings, '--listen', bad]);
      expect(r.code, bad).toBe(64);
      expect(r.stderr, bad).toMatch(/^canihaz: --listen: .*\(see "canihaz dashboard --help"\)\n$/);
    }
    const proc = spawnCli(['dashboard', '--settings', journal.home.settings, '--state-dir', journal.home.dir, '--listen', '0.0.0.0:0'], { killAfterMs: KILL_AFTER_MS });
    expect(await waitFor(() => proc.stderr.includes('dashboard listening'), 15_000), proc.stderr).toBe(true);
    expect(proc.stderr).toMatch(/level=warn msg="dashboard listens on a non-loopback address[^"]*" listen=0\.0\.0\.0:0/);
    proc.child.kill('SIGINT');
    expect((await proc.done).code).toBe(0);
  });
});
