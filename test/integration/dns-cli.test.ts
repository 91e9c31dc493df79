import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, cleanups, runCli } from '../support/cli.js';
import { startDnsServer, type DnsServer, type DnsZone } from '../support/dns-server.js';
import { startUdpStatsd, type StatsdListener } from '../support/listeners.js';
import { expectPrivateResolver, privateResolverRuns, privateResolverSkipNote, runCliWithDns } from '../support/private-resolver.js';

const cleanup = cleanups();

const ZONE: DnsZone = {
  'www.test': [{ type: 'A', address: '192.0.2.1' }],
  'mail.test': [{ type: 'MX', priority: 10, exchange: 'mx.test' }],
  'broken.test': 'servfail',
  'private.test': 'refused',
  'slow.test': 'silent',
};

async function dnsServer(options: { port?: number; host?: string } = {}): Promise<DnsServer> {
  const s = await startDnsServer({ zone: ZONE, ...options });
  cleanup(s.close);
  return s;
}
async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

/** The summary line's counts of `test`, as logged on stderr. */
function summaryOf(stderr: string, test: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.includes('msg=summary') && l.includes(` test=${test} `));
  expect(line, `summary of ${test} in:\n${stderr}`).toBeDefined();
  const counts: Record<string, number> = {};
  for (const m of line!.matchAll(/ (requested|started|ok|failed|dropped|missed|aborted)=(\d+)/g)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** Every tick ended one way, and every execution started ended ok or failed. */
function expectBalanced(counts: Record<string, number>): void {
  expect(counts.requested).toBe(counts.ok! + counts.failed! + counts.dropped! + counts.missed! + counts.aborted!);
  expect(counts.started).toBe(counts.ok! + counts.failed! + counts.aborted!);
}

describe('canihaz run with dns tests (real CLI, real DNS responder, real StatsD)', () => {
  it('counts 50 answers and 50 of each failure reason at 600/min for 5 s', async () => {
    const dns = await dnsServer();
    const sd = await statsd();
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port}`;
    const at = `server=${dns.server}`;
    const lines: [test: string, fields: string, outcome: string][] = [
      ['ok_a', `name=www.test|${at}|expect=192.0.2.1`, 'ok'],
      ['ok_mx', `name=mail.test|type=mx|${at}|expect=MX.test.`, 'ok'],
      ['nx', `name=nope.test|${at}`, 'failed.nxdomain'],
      ['sf', `name=broken.test|${at}`, 'failed.servfail'],
      ['ref', `name=private.test|${at}`, 'failed.refused'],
      ['mis', `name=www.test|${at}|expect=192.0.2.9`, 'failed.mismatch'],
      ['nod', `name=www.test|type=TXT|${at}`, 'failed.nodata'],
      ['slow', `name=slow.test|${at}|timeout=500ms`, 'failed.timeout'],
    ];
    await home.writeConfig(lines.map(([test, fields]) => `${test}|dns|600|${dest}|${fields}\n`).join(''));
    const r = await runCli(['run', ...home.args, '--lifetime', '5']);
    expect(r.code, r.stderr).toBe(0);
    await sd.waitFor(() => lines.every(([test, , outcome]) => sd.sum(`canihaz.${test}.${outcome}`) === 50));
    for (const [test, , outcome] of lines) {
      expect(sd.sum(`canihaz.${test}.ok`), test).toBe(outcome === 'ok' ? 50 : 0);
      expect(sd.sum(`canihaz.${test}.failed`), test).toBe(outcome === 'ok' ? 0 : 50);
      expect(sd.countOf(`canihaz.${test}.latency`), test).toBe(50);
      const counts = summaryOf(r.stderr, test);
      expect(counts, test).toMatchObject({ requested: 50, started: 50, [outcome === 'ok' ? 'ok' : 'failed']: 50 });
      expectBalanced(counts);
    }
    expect(dns.count('www.test', 'A')).toBe(100);
    expect(dns.count('mail.test', 'MX')).toBe(50);
    expect(dns.count('www.test', 'TXT')).toBe(50);
    for (const name of ['nope.test', 'broken.test', 'private.test', 'slow.test']) expect(dns.count(name), name).toBe(50);
    for (const l of sd.linesOf('canihaz.slow.latency')) expect(l.value).toBeGreaterThanOrEqual(495);
  });

  it('reports a bad dns line with its line number while the good line runs', async () => {
    const dns = await dnsServer();
    const home = await agentHome();
    await home.writeConfig(`good|dns|600|none|name=www.test|server=${dns.server}\nbad|dns|600|none|name=www.test|server=ns1.test|type=PTR\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${home.config}:2: server: expected an IP address`);
    expect(r.stderr).toContain(`${home.config}:2: type: expected one of A, AAAA, CNAME, MX, TXT, SRV, NS, got \\"PTR\\"`);
    expect(dns.count('www.test')).toBe(10);
  });

  it(`asks the system resolver (resolv.conf) when no server= is given${privateResolverSkipNote}`, async () => {
    if (!privateResolverRuns) return;
    expectPrivateResolver();
    // Port 53 on a 127/8 address of our own, named by a resolv.conf bind-mounted over the copy's.
    let dns: DnsServer | undefined;
    for (let attempt = 0; !dns; attempt++) {
      const host = `127.53.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
      dns = await dnsServer({ host, port: 53 }).catch((err: unknown) => {
        if (attempt >= 5) throw err;
        return undefined;
      });
    }
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-dns-cli-'));
    cleanup(() => rm(dir, { recursive: true, force: true }));
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, `nameserver ${dns.host}\n`);
    const sd = await statsd();
    const home = await agentHome();
    await home.writeConfig(`sys|dns|600|statsd://127.0.0.1:${sd.port}|name=www.test|expect=192.0.2.1\n`);
    const r = await runCliWithDns({ server: dns.server, resolvConf, queries: [], close: async () => {} }, ['run', ...home.args, '--lifetime', '2']);
    expect(r.code, r.stderr).toBe(0);
    await sd.waitFor(() => sd.sum('canihaz.sys.ok') === 20);
    expect(dns.count('www.test', 'A')).toBe(20);
  });
});
