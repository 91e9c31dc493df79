/**
 * `statsd_tags` through the real CLI (issue 11 item 5): a run's StatsD lines carry the test and host as
 * DogStatsD or Telegraf tags, with the cumulative latency counters, to a real UDP listener.
 */
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startUdpStatsd, type StatsdListener } from '../support/listeners.js';
import { agentHome, cleanups, runCli, startTarget, type TargetServer } from '../support/cli.js';

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  return t;
}
async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

/** This host's short name as the tag carries it. */
const HOST = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '_');
const SECRET = 's3cret-token-value';

describe('canihaz run with statsd_tags (real CLI, real UDP listener)', () => {
  it.each([
    ['dogstatsd', 'settings file', (name: string) => `${name}:`, `|#host:${HOST},test:home`],
    ['telegraf', 'flag', (name: string) => `${name},host=${HOST},test=home:`, ''],
  ] as const)('%s (from the %s): every line tagged with host and test, counts and le_ counters right, no secret', async (format, from, head, tail) => {
    const server = await target();
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`home|http|600|statsd://127.0.0.1:${sd.port}|url=${server.url}/?token=${SECRET}\n`);
    if (from === 'settings file') await writeFile(home.settings, `statsd_tags = ${format}\n`);
    const r = await runCli(['run', ...home.args, '--state-dir', home.dir, '--lifetime', '1', ...(from === 'flag' ? ['--statsd-tags', format] : [])]);
    expect(r.code, r.stderr).toBe(0);
    const total = (name: string) =>
      sd.lines.filter((l) => l.raw.startsWith(head(name)) && l.raw.endsWith(tail)).reduce((a, l) => a + Number(l.raw.slice(head(name).length).split('|')[0]), 0);
    await sd.waitFor(() => total('canihaz.ok') === 10 && total('canihaz.latency.le_inf') === 10);
    expect(server.count('/')).toBe(10);
    expect(sd.lines.filter((l) => l.raw.startsWith(head('canihaz.latency'))).length).toBe(10);
    // Cumulative: never more under a lower bound than under a higher one.
    const le = ['1', '10', '100', '1000', '10000', 'inf'].map((b) => total(`canihaz.latency.le_${b}`));
    expect([...le].sort((a, b) => a - b)).toEqual(le);
    expect(sd.malformed).toEqual([]);
    for (const l of sd.lines) {
      expect(l.raw.endsWith(tail), l.raw).toBe(true);
      expect(l.raw, 'the test is a tag, not a path segment').not.toContain('canihaz.home.');
      expect(l.raw).not.toContain(SECRET);
    }
  });

  it('refuses an unknown format, naming the flag and what it takes', async () => {
    const home = await agentHome();
    const r = await runCli(['run', ...home.args, '--lifetime', '1', '--statsd-tags', 'influx']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('statsd-tags');
    expect(r.stderr).toContain('expected none, dogstatsd or telegraf, got "influx"');
  });
});
