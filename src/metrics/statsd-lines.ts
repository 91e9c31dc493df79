/**
 * StatsD's text, without I/O: each event's lines (`name:value|c`, `name:value|ms`, `name:value|g`)
 * under a prefix — the test a path segment, or with `statsd_tags` the test and host as tags in the
 * DogStatsD or Telegraf syntax — the cumulative latency counters summed per flush, the packets the
 * lines are batched into, and the bounded queue of packets waiting for the server. The sink
 * (statsd.ts) sends the packets.
 */
import { cumulativeBuckets, forEachSample, LATENCY_BOUNDS_MS, LATENCY_BUCKET_NAMES, latencyBucketOf, type AgentCounter, type MetricEvent, type Sample, type SampleVisitor } from '../events.js';
import { agentMetricName, shortHostname, taggedMetricName, testMetricName, type StatsdTagFormat } from './names.js';

export type { StatsdTagFormat } from './names.js';

/** Largest packet, bytes: one UDP datagram fits a 1500-byte MTU. */
export const STATSD_MAX_BUFFER_BYTES = 1400;

/** One packet's text (lines joined by `\n`) and how many lines it holds. */
export interface Packet {
  text: string;
  lines: number;
}

/** How a figure's lines are written around the value: `head` + value + `tail`, and their total size in bytes. */
interface LineFrame {
  head: string;
  tail: string;
  bytes: number;
}

/** One test's frames by sample name, and its completed executions per latency bucket since the last flush. */
interface TestLines {
  test: string;
  frames: Map<string, LineFrame>;
  buckets: Uint32Array;
  /** In `#counted`: it has buckets to flush. */
  counted: boolean;
}

/**
 * A tag value with every character either syntax gives a meaning to (`,` `|` `#` `:` `=` `\\`), and
 * anything outside printable ASCII, replaced by `_`.
 */
export function statsdTagValue(value: string): string {
  const safe = value.replace(/[^\x21-\x7e]|[,|#:=\\]/g, '_');
  return safe === '' ? '_' : safe;
}

/** The StatsD lines of events under one expanded prefix; each test's names are built once. */
export class StatsdLines {
  readonly #prefix: string;
  readonly #tags: StatsdTagFormat;
  readonly #host: string;
  readonly #tests = new Map<string, TestLines>();
  /** Tests with latency counts since the last `flushBuckets`. */
  #counted: TestLines[] = [];
  /** The event being written: its test, and where its lines go (set by `event`). */
  #current: TestLines | undefined;
  #line: LineSink = () => undefined;
  /** Writes one figure of the event being written; made once, as it runs for every figure of every event. */
  readonly #visit: SampleVisitor = (name, kind, value) => {
    const frame = this.#frameOf(this.#current!, name);
    const text = formatValue(kind, value);
    // The value is ASCII: its length is its size in bytes.
    this.#line(frame.head + text + frame.tail, frame.bytes + text.length);
  };

  /** `tags` (other than `none`) sends the test and `hostname`'s short form as tags instead of path segments. */
  constructor(prefix: string, tags: { format: StatsdTagFormat; hostname: string } = { format: 'none', hostname: '' }) {
    this.#prefix = prefix;
    this.#tags = tags.format;
    this.#host = statsdTagValue(shortHostname(tags.hostname));
  }

  /** Calls `line` with each line of `event` (and its size in bytes), in `forEachSample` order; counts its latency bucket. */
  event(event: MetricEvent, line: LineSink): void {
    let t = this.#current;
    if (t === undefined || t.test !== event.test) t = this.#current = this.#testOf(event.test);
    this.#line = line;
    forEachSample(event, this.#visit);
    if (event.kind !== 'execution') return;
    t.buckets[latencyBucketOf(event.latencyMs)]! += 1;
    if (!t.counted) {
      t.counted = true;
      this.#counted.push(t);
    }
  }

  /**
   * Calls `line` with each test's cumulative latency counters since the last call
   * (`<test>.latency.le_<ms>:<n>|c`), the nonzero ones only (StatsD adds counters up), and starts over.
   */
  flushBuckets(line: LineSink): void {
    const counted = this.#counted;
    if (counted.length === 0) return;
    this.#counted = [];
    for (const t of counted) {
      const le = cumulativeBuckets(t.buckets);
      t.buckets.fill(0);
      t.counted = false;
      for (let i = 0; i < le.length; i++) {
        if (le[i] === 0) continue;
        const frame = this.#frameOf(t, LATENCY_BUCKET_NAMES[i]!);
        const text = `${le[i]}|c`;
        line(frame.head + text + frame.tail, frame.bytes + text.length);
      }
    }
  }

  /** The line of an agent-level counter, e.g. `canihaz.agent.skipped:1|c` (tagged with the host only). */
  agent(counter: AgentCounter): string {
    const frame = this.#frame(agentMetricName(this.#prefix, counter.name), [['host', this.#host]]);
    return `${frame.head}${counter.value}|c${frame.tail}`;
  }

  #testOf(test: string): TestLines {
    let t = this.#tests.get(test);
    if (!t) {
      t = { test, frames: new Map(), buckets: new Uint32Array(LATENCY_BOUNDS_MS.length + 1), counted: false };
      this.#tests.set(test, t);
      // The latency counters' names are built with the test's first event, not all at its first
      // flush: 2,000 tests starting together made each flush of the first second take ~10 ms.
      for (const name of LATENCY_BUCKET_NAMES) this.#frameOf(t, name);
    }
    return t;
  }

  /** The frame of one figure of a test. */
  #frameOf(t: TestLines, sample: string): LineFrame {
    let frame = t.frames.get(sample);
    if (frame === undefined) {
      frame =
        this.#tags === 'none'
          ? this.#frame(testMetricName(this.#prefix, t.test, sample), [])
          : this.#frame(taggedMetricName(this.#prefix, sample), [
              ['host', this.#host],
              ['test', statsdTagValue(t.test)],
            ]);
      t.frames.set(sample, frame);
    }
    return frame;
  }

  /** A name and its tags (already safe) as the chosen syntax writes them around a value. */
  #frame(name: string, tags: [string, string][]): LineFrame {
    let head = `${name}:`;
    let tail = '';
    if (this.#tags === 'dogstatsd') tail = `|#${tags.map(([k, v]) => `${k}:${v}`).join(',')}`;
    else if (this.#tags === 'telegraf') head = `${name}${tags.map(([k, v]) => `,${k}=${v}`).join('')}:`;
    return { head, tail, bytes: Buffer.byteLength(head) + Buffer.byteLength(tail) };
  }
}

/** Receives one line and its size in bytes. */
export type LineSink = (text: string, bytes: number) => void;

/** Batches lines into packets of at most `STATSD_MAX_BUFFER_BYTES` (a line longer than that goes alone). */
export class PacketBuilder {
  readonly #send: (packet: Packet) => void;
  #lines: string[] = [];
  #bytes = 0;

  /** `send` receives each packet once it is full or flushed. */
  constructor(send: (packet: Packet) => void) {
    this.#send = send;
  }

  /** Adds one line (`lineBytes`: its size in bytes, when known), sending the packet being built first when the line would not fit. */
  add(line: string, lineBytes = Buffer.byteLength(line)): void {
    const bytes = lineBytes + 1;
    if (this.#bytes + bytes > STATSD_MAX_BUFFER_BYTES) this.flush();
    this.#lines.push(line);
    this.#bytes += bytes;
  }

  /** Sends the packet being built, if it holds any line. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const packet: Packet = { text: this.#lines.join('\n'), lines: this.#lines.length };
    this.#lines = [];
    this.#bytes = 0;
    this.#send(packet);
  }
}

/** Packets waiting for the server, bounded in bytes (each packet counts its text and a newline). */
export class PacketQueue {
  readonly #maxBytes: number;
  #packets: Packet[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Packets held. */
  get length(): number {
    return this.#packets.length;
  }

  /** Keeps `packet`; false (and it is not kept) when that would pass the byte bound. */
  push(packet: Packet): boolean {
    const bytes = Buffer.byteLength(packet.text) + 1;
    if (this.#bytes + bytes > this.#maxBytes) return false;
    this.#packets.push(packet);
    this.#bytes += bytes;
    return true;
  }

  /** Removes and returns every packet held, oldest first. */
  takeAll(): Packet[] {
    const packets = this.#packets;
    this.#packets = [];
    this.#bytes = 0;
    return packets;
  }
}

/** A sample's value and StatsD type: `1|c`, `12.345|ms`, `3|g`. */
function formatValue(kind: Sample['kind'], value: number): string {
  if (kind === 'timing') return `${formatMs(value)}|ms`;
  return `${value}|${kind === 'counter' ? 'c' : 'g'}`;
}

/**
 * A duration rounded to the microsecond, which keeps lines short without losing precision that
 * matters: the text of `Math.round(ms * 1000) / 1000` (no exponent, no trailing zeros), written from
 * whole microseconds, which is much cheaper than printing a double.
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0';
  const us = Math.round(ms * 1000);
  if (us > Number.MAX_SAFE_INTEGER) return String(us / 1000);
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}
