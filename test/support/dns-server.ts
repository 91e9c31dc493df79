/**
 * A tiny real DNS responder on UDP for the dns probe's tests: hand-written wire format, answers from
 * a table of records, records every query.
 *
 * - `startDnsServer({ zone })` binds 127.0.0.1 (or `host`), port 0 (or `port`). Each zone entry is a
 *   name (case does not matter, no trailing dot) with its records, or with a behaviour for every query
 *   about it: `nxdomain`, `servfail`, `refused` (that rcode, no records) or `silent` (no reply at all).
 *   `set(name, entry)` changes an entry while the server runs; `delayMs` holds every reply that long.
 * - A name not in the zone is NXDOMAIN; a name in it without records of the asked type is NODATA
 *   (NOERROR, no answer). Asked for another type than CNAME, a name with a CNAME answers the CNAME
 *   and the target's records of that type (when the zone has them), as a recursive resolver would.
 * - Answers carry TTL 300 s, so a resolver that cached them would send fewer queries than it was asked.
 * - `queries` lists every well-formed query in arrival order (name lower-cased, type as a word).
 */
import dgram from 'node:dgram';
import net from 'node:net';

/** A record the server can answer with. */
export type DnsRecord =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'CNAME'; target: string }
  | { type: 'NS'; host: string }
  | { type: 'MX'; priority: number; exchange: string }
  | { type: 'TXT'; strings: string[] }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string };

/** What the server does with every query about a name instead of answering with records. */
export type DnsBehaviour = 'nxdomain' | 'servfail' | 'refused' | 'silent';

/** Names (no trailing dot) and what they answer. */
export type DnsZone = Record<string, DnsRecord[] | DnsBehaviour>;

/** One query as received. */
export interface DnsQuery {
  name: string;
  /** `A`, `MX`, … or `TYPE<n>` for a type the table does not know. */
  type: string;
}

/** A running responder. */
export interface DnsServer {
  host: string;
  port: number;
  /** `127.0.0.1:<port>` (IPv6: `[::1]:<port>`), for `server=`. */
  server: string;
  readonly queries: DnsQuery[];
  /** Replaces (or adds) the entry of `name`. */
  set(name: string, entry: DnsRecord[] | DnsBehaviour): void;
  /** Queries of `name` (any case), optionally of one type. */
  count(name: string, type?: string): number;
  close(): Promise<void>;
}

const TYPE_CODES = { A: 1, NS: 2, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]));
const RCODES = { noerror: 0, servfail: 2, nxdomain: 3, refused: 5 } as const;
const TTL = 300;

/** The question of a query: name, type and where it ends, or undefined when malformed. */
function parseQuestion(m: Buffer): { name: string; type: number; end: number } | undefined {
  if (m.length < 12 || m.readUInt16BE(4) !== 1 || (m[2]! & 0x80) !== 0) return undefined;
  const labels: string[] = [];
  let i = 12;
  while (i < m.length && m[i]! > 0) {
    const len = m[i]!;
    if (len > 63 || i + 1 + len > m.length) return undefined;
    labels.push(m.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += len + 1;
  }
  if (i + 5 > m.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: m.readUInt16BE(i + 1), end: i + 5 };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

function rdata(record: DnsRecord): Buffer {
  switch (record.type) {
    case 'A':
      return Buffer.from(record.address.split('.').map(Number));
    case 'AAAA':
      return ipv6Bytes(record.address);
    case 'CNAME':
      return encodeName(record.target);
    case 'NS':
      return encodeName(record.host);
    case 'MX':
      return Buffer.concat([u16(record.priority), encodeName(record.exchange)]);
    case 'TXT':
      return Buffer.concat(record.strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
    case 'SRV':
      return Buffer.concat([u16(record.priority, record.weight, record.port), encodeName(record.target)]);
  }
}

/** The 16 bytes of an IPv6 address (`::` expanded; no embedded IPv4). */
function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  return u16(...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t);
}

function resourceRecord(owner: string, record: DnsRecord): Buffer {
  const data = rdata(record);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_CODES[record.type], 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(TTL, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(owner), fixed, data]);
}

/** The reply to `query`: its id, opcode and RD, with QR and RA, `rcode`, its question, then `answers`. */
function reply(query: Buffer, questionEnd: number, rcode: number, answers: Buffer[]): Buffer {
  const head = Buffer.from(query.subarray(0, questionEnd));
  head[2] = 0x80 | (query[2]! & 0x79);
  head[3] = 0x80 | rcode;
  head.writeUInt16BE(answers.length, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10); // the query's EDNS OPT record is not echoed
  return Buffer.concat([head, ...answers]);
}

/** The answer records for `name`/`type` from `zone`, following one CNAME; or the behaviour. */
function answer(zone: ReadonlyMap<string, DnsRecord[] | DnsBehaviour>, name: string, type: string): { records: [string, DnsRecord][] } | DnsBehaviour {
  const entry = zone.get(name);
  if (entry === undefined) return 'nxdomain';
  if (typeof entry === 'string') return entry;
  const direct = entry.filter((r) => r.type === type);
  if (direct.length > 0 || type === 'CNAME') return { records: direct.map((r) => [name, r]) };
  const cname = entry.find((r) => r.type === 'CNAME');
  if (!cname) return { records: [] };
  const target = cname.target.toLowerCase().replace(/\.$/, '');
  const targetEntry = zone.get(target);
  const chased = Array.isArray(targetEntry) ? targetEntry.filter((r) => r.type === type).map((r): [string, DnsRecord] => [target, r]) : [];
  return { records: [[name, cname], ...chased] };
}

/** Starts a responder answering from `zone`; close it after the test. */
export async function startDnsServer(options: { zone: DnsZone; host?: string; port?: number; delayMs?: number }): Promise<DnsServer> {
  const host = options.host ?? '127.0.0.1';
  const key = (name: string) => name.toLowerCase().replace(/\.$/, '');
  const zone = new Map(Object.entries(options.zone).map(([name, entry]) => [key(name), entry]));
  const timers = new Set<NodeJS.Timeout>();
  const queries: DnsQuery[] = [];
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  socket.on('message', (m, from) => {
    const q = parseQuestion(m);
    if (!q) return;
    const type = TYPE_NAMES.get(q.type) ?? `TYPE${q.type}`;
    queries.push({ name: q.name, type });
    const a = answer(zone, q.name, type);
    if (a === 'silent') return;
    const out = typeof a === 'string' ? reply(m, q.end, RCODES[a], []) : reply(m, q.end, RCODES.noerror, a.records.map(([owner, r]) => resourceRecord(owner, r)));
    if (!options.delayMs) return socket.send(out, from.port, from.address);
    const timer = setTimeout(() => {
      timers.delete(timer);
      socket.send(out, from.port, from.address);
    }, options.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    server: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    queries,
    set: (name, entry) => void zone.set(key(name), entry),
    count: (name, type) => queries.filter((q) => q.name === name.toLowerCase() && (type === undefined || q.type === type)).length,
    close: () => {
      for (const t of timers) clearTimeout(t);
      closed ??= new Promise<void>((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}
