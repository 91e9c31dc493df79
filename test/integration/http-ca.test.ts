import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { httpProbeType } from '../../src/probes/http.js';
import type { Probe } from '../../src/probes/probe.js';
import { NO_OPENSSL, testCerts } from '../support/certs.js';

const certs = testCerts();
const never = new AbortController().signal;
const probes: Probe[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

/** A probe for `key=value` fields as a config line gives them (closed after the test). */
function probeFor(...fields: string[]): Probe {
  const params = new Map<string, string[]>();
  for (const f of fields) params.set(f.slice(0, f.indexOf('=')), [f.slice(f.indexOf('=') + 1)]);
  const parsed = httpProbeType.parse(params);
  if (!parsed.ok) throw new Error(`bad params: ${JSON.stringify(parsed.issues)}`);
  const probe = httpProbeType.create(parsed.options, { clock: systemClock, logger: silentLogger, test: 'http-ca-test' });
  probes.push(probe);
  return probe;
}

describe.skipIf(!certs)(`http probe: ca= trusts a private CA${certs ? '' : ` (skipped: ${NO_OPENSSL})`}`, () => {
  // Without the CA the error is UNABLE_TO_VERIFY_LEAF_SIGNATURE, which classifyNetError once counted as `other`.
  it('ok with ca=, tls (not other) without; lines with and without ca= to one origin keep separate connections', async () => {
    let requests = 0;
    const server = createServer({ key: certs!.leaf.key, cert: certs!.leaf.cert }, (_req, res) => {
      requests++;
      res.end('ok');
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const ca = `ca=${certs!.ca.certPath}`;

    const without = probeFor(`url=https://127.0.0.1:${port}/`);
    const withCa = probeFor(`url=https://127.0.0.1:${port}/`, ca);
    const byName = probeFor(`url=https://localhost:${port}/`, ca);
    expect(await without.execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(await withCa.execute(never)).toMatchObject({ ok: true });
    expect(await byName.execute(never)).toMatchObject({ ok: true });
    // Both pools are alive at once: the one without the CA still refuses the certificate.
    expect(await without.execute(never)).toMatchObject({ ok: false, reason: 'tls' });
    expect(await withCa.execute(never)).toMatchObject({ ok: true });
    expect(requests).toBe(3);
  });

  it('tls with ca= when the certificate is for another name', async () => {
    const server = createServer({ key: certs!.mismatch.key, cert: certs!.mismatch.cert }, (_req, res) => res.end('ok'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    expect(await probeFor(`url=https://127.0.0.1:${port}/`, `ca=${certs!.ca.certPath}`).execute(never)).toMatchObject({ ok: false, reason: 'tls' });
  });
});
