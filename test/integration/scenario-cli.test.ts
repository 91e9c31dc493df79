/**
 * Scenario modules through the real CLI: `canihaz run --types-dir <dir>` with modules written to a
 * temp types_dir (0755, files 0644), a real target and a real StatsD listener; 600/min for
 * `--lifetime 5` is exactly 50 executions per test.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli, startTarget } from '../support/cli.js';
import { startUdpStatsd } from '../support/listeners.js';

const cleanup = cleanups();
const EXAMPLE = fileURLToPath(new URL('../../conf/types/example-login.mjs', import.meta.url));

/** The counts of `test` in the end-of-run summary line. */
function summaryOf(stderr: string, test: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.includes('msg=summary') && l.includes(` test=${test} `));
  if (!line) throw new Error(`no summary line for ${test} in:\n${stderr}`);
  return Object.fromEntries([...line.matchAll(/ (requested|started|ok|failed|dropped|missed|aborted)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

const MODULES: Record<string, string> = {
  flaky: `let n = 0;
export default async function () {
  if (n++ % 2 === 1) throw Object.assign(new Error('every other one'), { reason: 'odd_one' });
}
`,
  hang: `export default function () { return new Promise(() => {}); }
`,
  nologin: `export async function setup(ctx) { throw new Error('login refused: 403'); }
export default async function () {}
`,
  badname: `export default async function (ctx) { ctx.count('latency'); }
`,
};

describe('scenario modules via the CLI', () => {
  it('setup once, two steps, a custom counter, a failing module, a hanging one: counts exact, run on time', async () => {
    const shop = await startTarget((req, res) => {
      if (req.url === '/login') {
        req.resume();
        req.on('end', () => res.end(JSON.stringify({ token: 't0k3n' })));
      } else if (req.headers.authorization !== 'Bearer t0k3n') {
        res.statusCode = 401;
        res.end();
      } else res.end(req.url === '/cart' ? JSON.stringify({ items: [1, 2, 3] }) : '{}');
    });
    const sd = await startUdpStatsd();
    cleanup(
      () => shop.close(),
      () => sd.close(),
    );
    const home = await agentHome();
    const types = join(home.dir, 'types');
    await mkdir(types);
    await chmod(types, 0o755);
    await copyFile(EXAMPLE, join(types, 'login.mjs'));
    await chmod(join(types, 'login.mjs'), 0o644);
    for (const [name, text] of Object.entries(MODULES)) await writeFile(join(types, `${name}.mjs`), text, { mode: 0o644 });
    const to = `statsd://127.0.0.1:${sd.port}`;
    await home.writeConfig(
      [
        `shop|login|600|${to}|base_url=${shop.url}`,
        `flaky|flaky|600|${to}`,
        `hang|hang|600|${to}|timeout=1s`,
        `nologin|nologin|600|${to}`,
        `badname|badname|600|${to}`,
      ].join('\n') + '\n',
    );

    const run = await runCli(['run', ...home.args, '--types-dir', types, '--lifetime', '5']);
    expect(run.code, run.stderr).toBe(0);
    // The window is 5 s; the last hanging execution ends at its 1 s timeout; then the final flush.
    expect(run.durationMs).toBeLessThan(9_000);

    // The example: one login, 50 of each step's request, with the token setup got.
    expect([shop.count('/login'), shop.count('/profile'), shop.count('/cart')]).toEqual([1, 50, 50]);
    await sd.waitFor(() => sd.sum('canihaz.shop.ok') === 50 && sd.sum('canihaz.shop.cart_items') === 150, { message: 'shop figures' });
    expect(sd.countOf('canihaz.shop.step.profile')).toBe(50);
    expect(sd.countOf('canihaz.shop.step.cart')).toBe(50);
    expect(sd.linesOf('canihaz.shop.step.profile').every((l) => l.type === 'ms')).toBe(true);
    expect([sd.sum('canihaz.shop.step.profile.ok'), sd.sum('canihaz.shop.step.cart.ok')]).toEqual([50, 50]);
    expect(sd.sum('canihaz.shop.cart_items')).toBe(150);
    expect(summaryOf(run.stderr, 'shop')).toEqual({ requested: 50, started: 50, ok: 50, failed: 0, dropped: 0, missed: 0, aborted: 0 });

    // Every other execution failed with the module's own reason.
    expect(summaryOf(run.stderr, 'flaky')).toEqual({ requested: 50, started: 50, ok: 25, failed: 25, dropped: 0, missed: 0, aborted: 0 });
    await sd.waitFor(() => sd.sum('canihaz.flaky.failed.odd_one') === 25, { message: 'flaky failures' });

    // A module that never resolves: every execution counted timeout.
    expect(summaryOf(run.stderr, 'hang')).toEqual({ requested: 50, started: 50, ok: 0, failed: 50, dropped: 0, missed: 0, aborted: 0 });
    await sd.waitFor(() => sd.sum('canihaz.hang.failed.timeout') === 50, { message: 'hang timeouts' });

    // A failed setup: every execution fails `setup`, and one error line says why.
    expect(summaryOf(run.stderr, 'nologin')).toMatchObject({ ok: 0, failed: 50 });
    await sd.waitFor(() => sd.sum('canihaz.nologin.failed.setup') === 50, { message: 'setup failures' });
    const setupLines = run.stderr.split('\n').filter((l) => l.includes('scenario setup failed'));
    expect(setupLines).toHaveLength(1);
    expect(setupLines[0]).toContain('level=error');
    expect(setupLines[0]).toContain('test=nologin');
    expect(setupLines[0]).toContain(`module=${join(types, 'nologin.mjs')}`);
    expect(setupLines[0]).toContain('error="login refused: 403"');

    // A reserved metric name: bad_metric on every execution, one warning, and never a path of its own.
    expect(summaryOf(run.stderr, 'badname')).toMatchObject({ ok: 0, failed: 50 });
    await sd.waitFor(() => sd.sum('canihaz.badname.failed.bad_metric') === 50, { message: 'bad metrics' });
    expect(run.stderr.split('\n').filter((l) => l.includes('scenario metric refused'))).toHaveLength(1);
    expect(sd.lines.filter((l) => l.name.startsWith('canihaz.badname.') && l.type === 'c' && l.name === 'canihaz.badname.latency')).toEqual([]);
    expect(sd.malformed).toEqual([]);
  }, 30_000);
});
