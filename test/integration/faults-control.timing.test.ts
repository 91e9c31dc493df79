/**
 * Fault injection on process control, timed: fifty simultaneous invocations against three lock slots
 * (what a slow target and a busy cron do to a host). A CPU-heavy storm, so it runs with the timing
 * files, alone, and its figures are its own. Asserts the watchdog on every copy and balanced books
 * on every copy that served.
 */
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, spawnCli, startTarget } from '../support/cli.js';
import { copyConfig, mostServingAtOnce, served, skipped, summaryTest } from '../support/copies.js';
import { bookOf, expectBooksBalance, expectEndedWithin } from '../support/faults.js';
import { startUdpStatsd } from '../support/listeners.js';

const cleanup = cleanups();

/** End-of-window flush deadline of `run` (FLUSH_DEADLINE_MS), ms. */
const FLUSH_MS = 2_000;

describe('fifty simultaneous invocations against three lock slots', () => {
  it('never lets more than three serve; all exit 0; the ones that find no slot exit fast and count agent.skipped', async () => {
    const target = await startTarget();
    const sd = await startUdpStatsd();
    cleanup(target.close, sd.close);
    const home = await agentHome();
    const N = 50;
    const LIFETIME_S = 4;
    // The storm is CPU-bound: 50 Node start-ups on two cores. Each copy that finds no slot uses
    // 0.16-0.2 s of CPU (0.3 s before it stopped loading the HTTP client, the config watcher and the
    // scheduler), so 47 of them need ~4-5 s of the two cores. Measured after the fix: the last is gone
    // 5-7 s after the spawn on an idle machine, 10-13 s with other heavy tests beside it (before the
    // fix: 10-12 s idle, 17-29 s under that load; the issue saw ~25 s). 20 s is the watchdog against
    // that pile-up; the check that does not depend on load is "exits without loading ..." in
    // faults-control.test.ts.
    const SLOTLESS_WITHIN_MS = 20_000;
    const copies = Array.from({ length: N }, (_, n) =>
      spawnCli(['run', ...home.args, '--config', copyConfig(home, target, n, `statsd://127.0.0.1:${sd.port}`), '--lifetime', String(LIFETIME_S)], {
        killAfterMs: 60_000,
      }),
    );
    const results = await Promise.all(copies.map((c) => c.done));

    expect(results.map((r) => r.code)).toEqual(results.map(() => 0));
    const serving = results.filter(served);
    const slotless = results.filter(skipped);
    expect(serving.length + slotless.length).toBe(N);
    const most = mostServingAtOnce(target);
    const slotlessMs = slotless.map((r) => r.durationMs).sort((a, b) => a - b);
    console.log(
      `fifty simultaneous copies: ${serving.length} served, at most ${most} at once; ` +
        `${slotless.length} found no slot and exited after p50 ${Math.round(slotlessMs[slotlessMs.length >> 1]!)} ms, ` +
        `max ${Math.round(slotlessMs.at(-1)!)} ms; serving copies ended after ${serving.map((r) => Math.round(r.durationMs)).join(', ')} ms`,
    );
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(1);
    expect(serving.length).toBeGreaterThanOrEqual(3);

    for (const r of slotless) expectEndedWithin(r, SLOTLESS_WITHIN_MS, 'a copy that found no slot');
    for (const r of serving) {
      expectEndedWithin(r, SLOTLESS_WITHIN_MS + LIFETIME_S * 1000 + FLUSH_MS, 'a serving copy');
      const name = summaryTest(r);
      const book = bookOf(r.stderr, name);
      expectBooksBalance(book);
      expect(book.ok + book.failed).toBe(target.count(`/${name}`));
    }
    // Every copy that found no slot counted agent.skipped, or said it may not have in time.
    const late = slotless.filter((r) => r.stderr.includes('agent.skipped not counted in time')).length;
    await sd.waitFor(() => sd.sum('canihaz.agent.skipped') >= slotless.length - late, { timeoutMs: 5_000 });
    expect(sd.sum('canihaz.agent.skipped')).toBeLessThanOrEqual(slotless.length);
  }, 90_000);
});
