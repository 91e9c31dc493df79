/**
 * A DNS server of the test's own on loopback, and a way to run the CLI so that it is the only DNS
 * server the copy knows: tests that need a name to fail (NXDOMAIN) or a resolver that never answers
 * send no query off the machine.
 *
 * - `startPrivateDns({ answer })` binds a UDP responder that answers every query NXDOMAIN, with one
 *   IPv4 address, or never.
 *   For an in-process resolver (`createHostResolver({ servers: [dns.server] })`) it listens on
 *   127.0.0.1, any port; `forCli: true` binds port 53 on a random 127/8 address instead, so the
 *   resolv.conf naming it is read alike by c-ares and by glibc (which allows no port).
 * - `spawnCliWithDns(dns, args)` runs `node dist/cli.js …` in a private mount namespace whose
 *   /etc/resolv.conf is bind-mounted from `dns.resolvConf`:
 *   `unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"'`.
 *   The copy stays in the host's network namespace, so it reaches the test's own loopback servers.
 *   Needs root; `PRIVATE_RESOLVER_SKIP` says why it cannot run here, and with CANIHAZ_E2E=1 (CI) a
 *   test must fail rather than skip (`expectPrivateResolver()`).
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { spawnCli, type CliProcess, type CliResult, type SpawnCliOptions } from './cli.js';

/** What the server does with every query: NXDOMAIN, nothing, or this IPv4 address (A; AAAA get no data). */
export type DnsAnswer = 'nxdomain' | 'silent' | { a: string };

/** A DNS server of the test's own. */
export interface PrivateDns {
  /** `ip:port`, for `createHostResolver({ servers })`. */
  server: string;
  /** A resolv.conf naming only this server (port 53 servers only: glibc reads no port). */
  resolvConf: string;
  /** Every name asked, lower-cased, in arrival order (A and AAAA queries alike). */
  readonly queries: string[];
  close(): Promise<void>;
}

/** Why the CLI cannot be given a private resolver here, or undefined when it can. */
export const PRIVATE_RESOLVER_SKIP: string | undefined = (() => {
  if (process.getuid?.() !== 0) return 'needs root (a private mount namespace and port 53 on loopback)';
  if (!existsSync('/etc/resolv.conf')) return 'needs an /etc/resolv.conf to bind over';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null /etc/resolv.conf'], { encoding: 'utf8' });
  if (probe.error) return 'needs unshare (util-linux)';
  if (probe.status !== 0) return `unshare --mount failed: ${probe.stderr.trim()}`;
  return undefined;
})();

/** CI runs every test: a missing capability is a failure there, a visible skip elsewhere. */
export const MUST_RUN_PRIVATE_RESOLVER = process.env.CANIHAZ_E2E === '1';

/** Whether tests needing the private resolver run (`it.skipIf(!privateResolverRuns)`). */
export const privateResolverRuns = PRIVATE_RESOLVER_SKIP === undefined || MUST_RUN_PRIVATE_RESOLVER;

/** The suffix a test's title gets when it is skipped: the reason, visibly. */
export const privateResolverSkipNote = PRIVATE_RESOLVER_SKIP && !MUST_RUN_PRIVATE_RESOLVER ? ` (skipped: ${PRIVATE_RESOLVER_SKIP})` : '';

/** Fails the test (in CI) when the private resolver cannot run. */
export function expectPrivateResolver(): void {
  expect(PRIVATE_RESOLVER_SKIP, 'CANIHAZ_E2E=1 requires the private-resolver tests to run').toBeUndefined();
}

/** The name in a DNS query's question, or undefined when it is malformed. */
function questionName(m: Buffer): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let i = 12;
  while (i < m.length && m[i]! > 0) {
    const len = m[i]!;
    if (len > 63 || i + 1 + len > m.length) return undefined;
    labels.push(m.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += len + 1;
  }
  // The terminating zero, then QTYPE and QCLASS.
  const end = i + 5;
  return end <= m.length ? { name: labels.join('.').toLowerCase(), end } : undefined;
}

/** An answer to `query`: its header (QR, RA, `rcode`) and question, then the answer records given. */
function reply(query: Buffer, questionEnd: number, rcode: number, answers: Buffer[] = []): Buffer {
  const head = Buffer.from(query.subarray(0, questionEnd));
  head[2] = 0x80 | (query[2]! & 0x79); // QR; the query's opcode and RD
  head[3] = 0x80 | rcode; // RA
  head.writeUInt16BE(1, 4); // one question
  head.writeUInt16BE(answers.length, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  return Buffer.concat([head, ...answers]);
}

/** An A record for the question's name (a pointer to offset 12), TTL 60 s. */
function aRecord(address: string): Buffer {
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(1, 2); // A
  record.writeUInt16BE(1, 4); // IN
  record.writeUInt32BE(60, 6);
  record.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => (record[12 + i] = Number(octet)));
  return record;
}

async function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Starts a DNS server that answers every query `answer` (NXDOMAIN or never); close it after the test. */
export async function startPrivateDns(options: { answer: DnsAnswer; forCli?: boolean }): Promise<PrivateDns> {
  const queries: string[] = [];
  let socket: dgram.Socket | undefined;
  let address = '127.0.0.1';
  // Port 53 on a 127/8 address of our own: nothing else listens there, and parallel tests differ.
  for (let attempt = 0; !socket; attempt++) {
    const s = dgram.createSocket('udp4');
    address = options.forCli ? `127.53.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}` : '127.0.0.1';
    try {
      await bind(s, options.forCli ? 53 : 0, address);
      socket = s;
    } catch (err) {
      s.close();
      if (attempt >= 5) throw err;
    }
  }
  const bound = socket;
  bound.on('message', (m, from) => {
    const q = questionName(m);
    if (!q) return;
    queries.push(q.name);
    const answer = options.answer;
    if (answer === 'silent') return;
    const isA = m.readUInt16BE(q.end - 4) === 1;
    const out = answer === 'nxdomain' ? reply(m, q.end, 3) : reply(m, q.end, 0, isA ? [aRecord(answer.a)] : []);
    bound.send(out, from.port, from.address);
  });
  const port = bound.address().port;
  const dir = await mkdtemp(join(tmpdir(), 'canihaz-dns-'));
  const resolvConf = join(dir, 'resolv.conf');
  // c-ares reads `ip:port`; glibc only bare addresses, hence port 53 for the CLI.
  await writeFile(resolvConf, `nameserver ${port === 53 ? address : `${address}:${port}`}\n`);
  return {
    server: `${address}:${port}`,
    resolvConf,
    queries,
    close: async () => {
      await new Promise<void>((resolve) => bound.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Like spawnCli, but the copy's /etc/resolv.conf names only `dns` (a private mount namespace; `sh`
 * and `unshare` exec, so the child's pid is the CLI's and signals reach it). Killed after `killAfterMs`.
 */
export function spawnCliWithDns(dns: PrivateDns, args: string[], options: Omit<SpawnCliOptions, 'wrap'> = {}): CliProcess {
  return spawnCli(args, {
    ...options,
    wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', dns.resolvConf],
  });
}

/** Runs the CLI to completion with `dns` as its only DNS server. */
export function runCliWithDns(dns: PrivateDns, args: string[], options: Omit<SpawnCliOptions, 'wrap'> = {}): Promise<CliResult> {
  return spawnCliWithDns(dns, args, options).done;
}
