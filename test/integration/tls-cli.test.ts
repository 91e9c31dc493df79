import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { NO_OPENSSL, testCerts, type TestCert } from '../support/certs.js';
import { agentHome, cleanups, runCli } from '../support/cli.js';
import { startUdpStatsd } from '../support/listeners.js';

const certs = testCerts();
const cleanup = cleanups();

/** A real TLS server on 127.0.0.1 presenting `cert`; counts the connections it accepts. */
async function tlsServer(cert: TestCert): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = tls.createServer({ key: cert.key, cert: cert.cert });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

type Books = Record<'requested' | 'started' | 'ok' | 'failed' | 'dropped' | 'missed' | 'aborted', number>;

/** The `summary` records of a JSON-logged run, by test. */
function summaries(stderr: string): Map<string, Books> {
  const map = new Map<string, Books>();
  for (const line of stderr.trim().split('\n')) {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record.msg === 'summary') map.set(record.test as string, record as unknown as Books);
  }
  return map;
}

describe.skipIf(!certs)(`canihaz run with tls lines (real CLI, real TLS servers, real StatsD)${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, () => {
  it('600/min for 5 s: 50 ok with days_left gauges, 50 failed.expiring, 50 failed.tls with the code in the debug log; books balanced', async () => {
    const good = await tlsServer(certs!.leaf);
    const soon = await tlsServer(certs!.expiring);
    const sd = await startUdpStatsd();
    cleanup(sd.close);
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${sd.port}`;
    const ca = `ca=${certs!.ca.certPath}`;
    await home.writeConfig(
      [
        `good|tls|600|${dest}|target=127.0.0.1:${good.port}|${ca}`,
        `soon|tls|600|${dest}|target=localhost:${soon.port}|${ca}`,
        `untrusted|tls|600|${dest}|target=127.0.0.1:${good.port}`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['run', ...home.args, '--lifetime', '5', '--log-format', 'json', '--log-level', 'debug']);
    expect(r.code).toBe(0);
    await sd.waitFor(() => sd.sum('canihaz.good.ok') === 50 && sd.sum('canihaz.soon.failed.expiring') === 50 && sd.sum('canihaz.untrusted.failed.tls') === 50, {
      timeoutMs: 5_000,
    });

    expect(sd.sum('canihaz.good.failed')).toBe(0);
    const goodDays = sd.linesOf('canihaz.good.days_left');
    expect(goodDays).toHaveLength(50);
    for (const line of goodDays) {
      expect(line.type).toBe('g');
      expect(line.value).toBeGreaterThan(364.9);
      expect(line.value).toBeLessThanOrEqual(365);
    }
    expect(sd.countOf('canihaz.good.latency')).toBe(50);

    expect(sd.sum('canihaz.soon.ok')).toBe(0);
    expect(sd.sum('canihaz.soon.failed')).toBe(50);
    const soonDays = sd.linesOf('canihaz.soon.days_left');
    expect(soonDays).toHaveLength(50);
    for (const line of soonDays) expect(line.value).toBeGreaterThan(2.99);
    for (const line of soonDays) expect(line.value).toBeLessThanOrEqual(3);

    // Every execution a connection: the untrusted line shares the good server.
    expect(good.connections()).toBe(100);
    expect(soon.connections()).toBe(50);

    const debug = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'debug' && l.msg === 'tls probe: certificate not accepted');
    expect(debug).toHaveLength(50);
    expect(debug[0]).toMatchObject({ test: 'untrusted', target: `127.0.0.1:${good.port}`, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });

    const books = summaries(r.stderr);
    for (const test of ['good', 'soon', 'untrusted']) {
      const s = books.get(test)!;
      expect(s, test).toMatchObject({ requested: 50, started: 50, dropped: 0, missed: 0, aborted: 0 });
      expect(s.ok + s.failed + s.dropped + s.missed + s.aborted, test).toBe(s.requested);
    }
    expect(books.get('good')).toMatchObject({ ok: 50, failed: 0 });
    expect(books.get('soon')).toMatchObject({ ok: 0, failed: 50 });
    expect(books.get('untrusted')).toMatchObject({ ok: 0, failed: 50 });
  });

  it('check exits 1 naming FILE:LINE: ca for a missing or non-PEM CA file, 0 for a good one', async () => {
    const home = await agentHome();
    await home.writeConfig(
      [
        `fine|tls|60|none|target=example.com:443|ca=${certs!.ca.certPath}`,
        'missing|tls|60|none|target=example.com:443|ca=/nonexistent/ca.pem',
        `key|tls|60|none|target=example.com:443|ca=${certs!.leaf.keyPath}`,
        `web|http|60|none|url=https://example.com/|ca=/nonexistent/ca.pem`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['check', ...home.args], { killAfterMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${home.config}:2: ca: cannot read "/nonexistent/ca.pem": ENOENT`,
      `${home.config}:3: ca: "${certs!.leaf.keyPath}" holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)`,
      `${home.config}:4: ca: cannot read "/nonexistent/ca.pem": ENOENT`,
    ]);
    // The key file's content never reaches the output.
    expect(r.stderr).not.toContain(certs!.leaf.key.split('\n')[1]!);
    expect(r.stdout.trim()).toBe('3 problems; 1 valid test');

    await home.writeConfig(`fine|tls|60|none|target=example.com:443|${`ca=${certs!.ca.certPath}`}|min_days=30\n`);
    const ok = await runCli(['check', ...home.args], { killAfterMs: 10_000 });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });
});
