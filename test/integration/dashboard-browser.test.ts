/**
 * The dashboard's page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, which downloads no browser. Over a journal left by two real runs: one section per
 * test with its two uPlot charts drawn from the data the page received, failures by reason, the runs,
 * the range picker refetching, auto-refresh; over an empty journal: the message and no chart; over an
 * hour of demo records: a bar per minute, kept as the screenshot test-artifacts/dashboard.png (copied to
 * docs/dashboard.png, the README's picture, with CANIHAZ_UPDATE_DOCS=1). No request may leave 127.0.0.1.
 * Without /usr/bin/chromium the tests are skipped, saying why; under CANIHAZ_E2E=1 they fail instead.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realJournal, startDashboard, writeDemoJournal, type ApiReport, type Dashboard, type RealJournal } from '../support/dashboard.js';
import { e2eGate } from '../support/real-servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
/** As the machine notes say: no background traffic, no GPU, a fresh profile (launchPersistentContext's directory). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const gate = e2eGate('the dashboard page in a real headless Chromium', existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(gate.skip)(gate.title, () => {
  let journal: RealJournal;
  let dash: Dashboard;
  let emptyDash: Dashboard;
  let demoDash: Dashboard;
  const dirs: string[] = [];
  let context: BrowserContext;
  /** Every URL the browser asked for that is not on 127.0.0.1 (each aborted), and every URL it asked for. */
  const offHost: string[] = [];
  const seen: string[] = [];
  let demoTotals: Record<string, { ok: number; failed: number }>;

  beforeAll(async () => {
    journal = await realJournal();
    dash = await startDashboard(journal.home, journal.home.dir);
    const empty = mkdtempSync(join(tmpdir(), 'canihaz-dash-empty-'));
    const demo = mkdtempSync(join(tmpdir(), 'canihaz-dash-demo-'));
    dirs.push(empty, demo);
    emptyDash = await startDashboard(journal.home, empty);
    demoTotals = writeDemoJournal(demo, Date.now());
    demoDash = await startDashboard(journal.home, demo);

    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'canihaz-chromium-'));
    dirs.push(profile);
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, viewport: { width: 1100, height: 900 }, args: CHROMIUM_ARGS });
    await context.route(
      (url) => url.hostname !== '127.0.0.1',
      (route) => {
        offHost.push(route.request().url());
        return route.abort();
      },
    );
    context.on('request', (r) => seen.push(r.url()));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    for (const d of [dash, emptyDash, demoDash]) if (d) expect((await d.stop()).code).toBe(0);
    await journal?.target.close();
    for (const d of [...dirs, journal?.home.dir]) if (d) rmSync(d, { recursive: true, force: true });
    expect(offHost).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((u) => !u.startsWith('http://127.0.0.1:'))).toEqual([]);
  });

  /** A new page that collects its script errors and console errors (a CSP violation is one). */
  async function open(url: string, apiPath: string): Promise<{ page: Page; errors: string[]; received: ApiReport }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const response = page.waitForResponse((r) => r.url().includes(apiPath));
    await page.goto(url);
    const received = (await (await response).json()) as ApiReport;
    await page.waitForSelector('main[data-state="ready"], main[data-state="empty"]');
    return { page, errors, received };
  }

  it('draws two charts per test from the data it received, failures by reason and the runs; the range picker refetches', async () => {
    const { page, errors, received } = await open(`${dash.base}/?since=1h&limit=5`, '/api/report?since=1h&limit=5');
    expect(await page.getAttribute('main', 'data-state')).toBe('ready');
    const tests = received.tests.map((t) => t.test);
    expect(tests).toEqual(['flaky', 'home']);
    expect(await page.locator('section.test h2').allTextContents()).toEqual(tests);
    expect(await page.locator('section.test .uplot').count()).toBe(2 * tests.length);
    expect(await page.locator('section.test canvas').count()).toBe(2 * tests.length);
    // The books the page shows are the journal's: what the target counted.
    for (const s of received.series.tests) expect(s.ok.some((n) => n > 0), s.test).toBe(true);
    const home = received.tests.find((t) => t.test === 'home')!;
    expect(home.ok + home.failed).toBe(journal.target.count('/home'));
    expect(await page.locator('section[data-test="home"] .figures').textContent()).toContain(`ok ${home.ok}, failed ${home.failed}`);
    expect((await page.locator('section[data-test="flaky"] .u-legend').allTextContents()).join(' ')).toMatch(/ok.*failed[\s\S]*p50.*p99/);
    const reasons = page.locator('section[data-test="flaky"] table.reasons tbody tr');
    expect(await reasons.count()).toBe(1);
    expect(await reasons.first().locator('th').textContent()).toBe('status_503');
    expect(await reasons.first().locator('td.n').textContent()).toBe(String(journal.failedAtTarget()));
    expect(await page.locator('#runs tbody tr').count()).toBe(2);
    expect(await page.locator('#runs th[scope="col"]').count()).toBe(5);
    expect(await page.getByLabel('Range').inputValue()).toBe('1h');
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-runs.png'), fullPage: true });

    // The range picker asks for the day, and the page draws what it got: ten-minute buckets.
    const day = page.waitForResponse((r) => r.url().includes('/api/report?since=24h'));
    await page.getByLabel('Range').selectOption('24h');
    const dayData = (await (await day).json()) as ApiReport;
    expect(dayData.series.bucketSeconds).toBe(600);
    expect(Date.parse(dayData.to) - Date.parse(dayData.from)).toBe(86_400_000);
    await page.waitForFunction("document.getElementById('status').textContent.startsWith('last day')");
    expect(await page.locator('section.test canvas').count()).toBe(2 * tests.length);
    expect(new URL(page.url()).searchParams.get('since')).toBe('24h');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an hour of records: a bucket a minute, the burst of timeouts in the failures; the screenshot', async () => {
    const { page, errors, received } = await open(`${demoDash.base}/?since=1h&limit=5`, '/api/report?since=1h&limit=5');
    expect(received.series.bucketSeconds).toBe(60);
    for (const s of received.series.tests) {
      const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
      expect({ ok: sum(s.ok), failed: sum(s.failed) }, s.test).toEqual(demoTotals[s.test]);
      expect(s.ok.filter((n) => n > 0).length, s.test).toBe(58);
    }
    expect(await page.locator('section.test canvas').count()).toBe(4);
    expect(await page.locator('section[data-test="search"] table.reasons tbody th').allTextContents()).toEqual(['timeout', 'status_503']);
    expect(await page.locator('#runs tbody tr').count()).toBe(5);
    expect(await page.locator('#runs-caption').textContent()).toMatch(/^The last 5 of 58 runs/);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard.png'), fullPage: true });
    if (process.env.CANIHAZ_UPDATE_DOCS === '1') copyFileSync(join(ROOT, 'test-artifacts', 'dashboard.png'), join(ROOT, 'docs', 'dashboard.png'));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refreshes every 10 s while auto-refresh is on, and says when it is paused', async () => {
    const { page } = await open(`${dash.base}/`, '/api/report');
    await page.waitForSelector('main[data-loads="1"]');
    await page.waitForSelector('main[data-loads="2"]', { timeout: 13_000 });
    await page.getByLabel('auto-refresh every 10 s').uncheck();
    expect(await page.locator('#status').textContent()).toContain('auto-refresh paused');
    await page.close();
  }, 30_000);

  it('an empty journal says so, with the journal’s path, and draws no chart', async () => {
    const { page } = await open(`${emptyDash.base}/`, '/api/report');
    expect(await page.getAttribute('main', 'data-state')).toBe('empty');
    const message = await page.locator('#empty').textContent();
    expect(message).toContain('No results in the journal for this range');
    expect(message).toContain(join(dirs[0]!, 'journal'));
    expect(await page.locator('#empty').isVisible()).toBe(true);
    expect(await page.locator('canvas').count()).toBe(0);
    expect(await page.locator('#runs-section').isVisible()).toBe(false);
    await page.close();
  });
});
