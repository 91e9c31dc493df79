import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { ProbeResult } from '../../src/events.js';
import { silentLogger, type LogFields, type Logger } from '../../src/log.js';
import type { DnsProbeOptions } from '../../src/probes/dns-params.js';
import { dnsProbeType } from '../../src/probes/dns.js';
import type { Probe } from '../../src/probes/probe.js';
import { cleanups } from '../support/cli.js';
import { startDnsServer, type DnsServer, type DnsZone } from '../support/dns-server.js';
import { freePort } from '../support/listeners.js';

const cleanup = cleanups();

const ZONE: DnsZone = {
  'www.test': [
    { type: 'A', address: '192.0.2.1' },
    { type: 'A', address: '192.0.2.2' },
    { type: 'AAAA', address: '2001:db8:0:0:0:0:0:1' },
  ],
  'alias.test': [{ type: 'CNAME', target: 'www.test' }],
  'mail.test': [
    { type: 'MX', priority: 10, exchange: 'mx1.test' },
    { type: 'MX', priority: 20, exchange: 'MX2.Test' },
  ],
  'txt.test': [
    { type: 'TXT', strings: ['v=spf1 ', 'ip4:192.0.2.0/24 ', '-all'] },
    { type: 'TXT', strings: ['google-site-verification=abc'] },
  ],
  '_sip._udp.test': [{ type: 'SRV', priority: 1, weight: 5, port: 5060, target: 'sip.test' }],
  'zone.test': [
    { type: 'NS', host: 'ns1.test' },
    { type: 'NS', host: 'ns2.test' },
  ],
  'broken.test': 'servfail',
  'private.test': 'refused',
  'slow.test': 'silent',
};

async function server(options: { zone?: DnsZone; host?: string; delayMs?: number } = {}): Promise<DnsServer> {
  const s = await startDnsServer({ zone: ZONE, ...options });
  cleanup(s.close);
  return s;
}

/** A dns probe from `key=value` fields as a config line gives them; closed after the test. */
function probe(fields: Record<string, string>, logger: Logger = silentLogger): Probe & { options: DnsProbeOptions } {
  const parsed = dnsProbeType.parse(new Map(Object.entries(fields).map(([k, v]) => [k, [v]])));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const p = dnsProbeType.create(parsed.options, { clock: systemClock, logger, test: 'dns_test' });
  cleanup(() => p.close());
  return Object.assign(p, { options: parsed.options });
}

const never = new AbortController().signal;

describe('dns probe: answers', () => {
  it.each<[string, Record<string, string>, string]>([
    ['A', { name: 'www.test', expect: '192.0.2.2' }, 'A'],
    ['A without expect', { name: 'www.test' }, 'A'],
    ['AAAA, expect compared canonical', { name: 'www.test', type: 'AAAA', expect: '2001:DB8::0:1' }, 'AAAA'],
    ['CNAME, case and trailing dot ignored', { name: 'alias.test', type: 'cname', expect: 'WWW.test.' }, 'CNAME'],
    ['MX, the exchange', { name: 'mail.test', type: 'MX', expect: 'mx2.test' }, 'MX'],
    ['TXT, one record\'s strings joined', { name: 'txt.test', type: 'TXT', expect: 'v=spf1 ip4:192.0.2.0/24 -all' }, 'TXT'],
    ['SRV, the target', { name: '_sip._udp.test', type: 'SRV', expect: 'sip.test' }, 'SRV'],
    ['NS', { name: 'zone.test', type: 'NS', expect: 'ns2.test' }, 'NS'],
    ['A through a CNAME', { name: 'alias.test', expect: '192.0.2.1' }, 'A'],
  ])('%s', async (_title, fields, queryType) => {
    const dns = await server();
    const p = probe({ ...fields, server: dns.server });
    const result = await p.execute(never);
    expect(result).toEqual({ ok: true, latencyMs: expect.any(Number) as number });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(dns.queries).toEqual([{ name: fields.name!.toLowerCase(), type: queryType }]);
  });

  it('asks the server every time (no cache) and times the answer on the clock', async () => {
    const dns = await server({ delayMs: 150 });
    const p = probe({ name: 'www.test', server: dns.server });
    const results = [await p.execute(never), await p.execute(never), await p.execute(never)];
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.latencyMs).toBeGreaterThanOrEqual(145);
      expect(r.latencyMs).toBeLessThan(1_000);
    }
    expect(dns.count('www.test', 'A')).toBe(3);
  });

  it('asks a server on IPv6 loopback ([::1]:port)', async () => {
    const dns = await server({ host: '::1' });
    const p = probe({ name: 'www.test', type: 'AAAA', server: dns.server, expect: '2001:db8::1' });
    expect(dns.server).toMatch(/^\[::1\]:\d+$/);
    expect((await p.execute(never)).ok).toBe(true);
    expect(dns.count('www.test', 'AAAA')).toBe(1);
  });
});

describe('dns probe: failure reasons', () => {
  it.each<[string, Record<string, string>, string]>([
    ['nxdomain: no such name', { name: 'nope.test' }, 'nxdomain'],
    ['servfail', { name: 'broken.test' }, 'servfail'],
    ['refused: the server says REFUSED', { name: 'private.test' }, 'refused'],
    ['nodata: the name has no record of the type', { name: 'www.test', type: 'MX' }, 'nodata'],
    ['nodata with expect', { name: 'txt.test', type: 'A', expect: '192.0.2.1' }, 'nodata'],
    ['mismatch: A', { name: 'www.test', expect: '192.0.2.3' }, 'mismatch'],
    ['mismatch: TXT compares a whole record, not a string of it', { name: 'txt.test', type: 'TXT', expect: 'v=spf1 ' }, 'mismatch'],
    ['mismatch: MX compares the exchange only', { name: 'mail.test', type: 'MX', expect: 'mail.test' }, 'mismatch'],
  ])('%s', async (_title, fields, reason) => {
    const dns = await server();
    const result = await probe({ ...fields, server: dns.server }).execute(never);
    expect(result).toEqual({ ok: false, latencyMs: expect.any(Number) as number, reason });
    expect(dns.queries).toHaveLength(1);
  });

  it('mismatch logs the answers at debug', async () => {
    const dns = await server();
    const debug: [string, LogFields | undefined][] = [];
    const logger = { ...silentLogger, debug: (msg: string, fields?: LogFields) => void debug.push([msg, fields]) };
    const result = await probe({ name: 'www.test', expect: '192.0.2.9', server: dns.server }, logger).execute(never);
    expect(result.reason).toBe('mismatch');
    expect(debug).toEqual([['dns answers did not include expect', { test: 'dns_test', answers: '192.0.2.1 192.0.2.2' }]]);
  });

  it('refused: nothing listens on the server port', async () => {
    const port = await freePort();
    const result = await probe({ name: 'www.test', server: `127.0.0.1:${port}` }).execute(never);
    expect(result.reason).toBe('refused');
  });

  it('timeout: a silent server, at the test timeout', async () => {
    const dns = await server();
    const result = await probe({ name: 'slow.test', server: dns.server, timeout: '400ms' }).execute(never);
    expect(result.reason).toBe('timeout');
    expect(result.latencyMs).toBeGreaterThanOrEqual(395);
    expect(result.latencyMs).toBeLessThan(700);
    expect(dns.count('slow.test')).toBe(1);
  });

  it('aborted: the run stops mid-query, and the next run still asks', async () => {
    const dns = await server();
    const p = probe({ name: 'slow.test', server: dns.server, timeout: '10s' });
    const stop = new AbortController();
    const pending = p.execute(stop.signal);
    await new Promise((r) => setTimeout(r, 100));
    const at = performance.now();
    stop.abort();
    const result = await pending;
    expect(result.reason).toBe('aborted');
    expect(performance.now() - at).toBeLessThan(100);
    expect(await p.execute(stop.signal)).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
    // The channel was cancelled, not destroyed: a later run's executions are answered.
    dns.set('slow.test', [{ type: 'A', address: '192.0.2.7' }]);
    expect(await p.execute(new AbortController().signal)).toEqual({ ok: true, latencyMs: expect.any(Number) as number });
  });

  it('aborted: a stop of one run leaves another run\'s queries on the same probe running', async () => {
    const dns = await server({ delayMs: 300 });
    const p = probe({ name: 'www.test', server: dns.server });
    const old = new AbortController();
    const stopped = p.execute(old.signal);
    const other = p.execute(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 50));
    old.abort();
    expect((await stopped).reason).toBe('aborted');
    expect(await other).toEqual({ ok: true, latencyMs: expect.any(Number) as number });
  });
});

describe('dns probe: executions share one resolver', () => {
  it('one execution timing out fails none of the others in flight', async () => {
    // Each reply waits 100 ms, so several executions are in flight when the first one's timer
    // (400 ms) and c-ares' own timeout for its query (500 ms) fire.
    const dns = await server({ delayMs: 100 });
    const p = probe({ name: 'flaky.test', server: dns.server, timeout: '400ms' });
    dns.set('flaky.test', 'silent');
    const first = p.execute(never);
    await new Promise((r) => setTimeout(r, 20));
    dns.set('flaky.test', [{ type: 'A', address: '192.0.2.5' }]);
    const rest: Promise<ProbeResult>[] = [];
    for (let i = 0; i < 40; i++) {
      rest.push(p.execute(never));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await first).reason).toBe('timeout');
    const results = await Promise.all(rest);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(dns.count('flaky.test')).toBe(41);
  });

  it('the warm-up asks a responder of its own only, once per process, within its bound', async () => {
    const dns = await server();
    const at = performance.now();
    await dnsProbeType.prepare!({ clock: systemClock, logger: silentLogger });
    await dnsProbeType.prepare!({ clock: systemClock, logger: silentLogger });
    expect(performance.now() - at).toBeLessThan(2_600);
    expect(dns.queries).toEqual([]);
  });

  it('close() ends a query still running, and later executions say aborted', async () => {
    const dns = await server();
    const p = probe({ name: 'slow.test', server: dns.server, timeout: '10s' });
    const pending = p.execute(never);
    await new Promise((r) => setTimeout(r, 50));
    await p.close();
    const result = await pending;
    expect(result.reason).toBe('aborted');
    expect(await p.execute(never)).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
  });
});
