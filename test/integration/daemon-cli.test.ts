import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, spawnCli, startTarget, waitFor } from '../support/cli.js';

const cleanup = cleanups();

describe('canihaz daemon (real CLI process)', () => {
  it('starts runs on its schedule with its options, and stops them all on SIGTERM', async () => {
    const server = await startTarget();
    cleanup(server.close);
    const home = await agentHome();
    await home.writeConfig(`d|http|600|none|url=${server.url}/\n`);
    // CANIHAZ_DAEMON_SCHEDULE is test-only: every 2 s instead of second 0 of every minute.
    const daemon = spawnCli(['daemon', ...home.args, '--log-level', 'info'], { env: { CANIHAZ_DAEMON_SCHEDULE: '*/2 * * * * *' } });
    // Two children running side by side (each owns the same minute here, only because of the test schedule).
    expect(await waitFor(() => (daemon.stderr.match(/lock slot|run started/g) ?? []).length >= 2 && server.count('/') >= 5, 8_000)).toBe(true);
    daemon.child.kill('SIGTERM');
    const r = await daemon.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/msg=summary test=d /);
    const before = server.count('/');
    await new Promise((res) => setTimeout(res, 300));
    expect(server.count('/')).toBe(before);
  });
});
