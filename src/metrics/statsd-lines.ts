/**
 * StatsD's text, without I/O: each event's lines (`name:value|c`, `name:value|ms`, `name:value|g`)
 * under a prefix, the packets they are batched into, and the bounded queue of packets waiting for
 * the server. The sink (statsd.ts) sends the packets.
 */
import { forEachSample, type AgentCounter, type MetricEvent, type Sample, type SampleVisitor } from '../events.js';
import { agentMetricName, testMetricName } from './names.js';

/** Largest packet, bytes: one UDP datagram fits a 1500-byte MTU. */
export const STATSD_MAX_BUFFER_BYTES = 1400;

/** One packet's text (lines joined by `\n`) and how many lines it holds. */
export interface Packet {
  text: string;
  lines: number;
}

/** A figure's name as its lines start (`canihaz.home.latency:`), and that start's length in bytes. */
interface LineHead {
  text: string;
  bytes: number;
}

/** The StatsD lines of events under one expanded prefix; each test's metric names are built once. */
export class StatsdLines {
  readonly #prefix: string;
  /** Per test, the line head of each sample name seen. */
  readonly #names = new Map<string, Map<string, LineHead>>();
  /** The event being written: its test, that test's names, and where its lines go (set by `event`). */
  #test = '';
  #testNames = new Map<string, LineHead>();
  #line: LineSink = () => undefined;
  /** Writes one figure of the event being written; made once, as it runs for every figure of every event. */
  readonly #visit: SampleVisitor = (name, kind, value) => {
    const head = this.#headOf(name);
    const text = formatValue(kind, value);
    // The value is ASCII: its length is its size in bytes.
    this.#line(head.text + text, head.bytes + text.length);
  };

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Calls `line` with each line of `event` (and its size in bytes), in `forEachSample` order. */
  event(event: MetricEvent, line: LineSink): void {
    if (event.test !== this.#test || this.#testNames.size === 0) {
      this.#test = event.test;
      this.#testNames = this.#namesOf(event.test);
    }
    this.#line = line;
    forEachSample(event, this.#visit);
  }

  /** The line of an agent-level counter, e.g. `canihaz.agent.skipped:1|c`. */
  agent(counter: AgentCounter): string {
    return `${agentMetricName(this.#prefix, counter.name)}:${counter.value}|c`;
  }

  #namesOf(test: string): Map<string, LineHead> {
    let names = this.#names.get(test);
    if (!names) {
      names = new Map();
      this.#names.set(test, names);
    }
    return names;
  }

  /** The line head of one figure of the event being written. */
  #headOf(sample: string): LineHead {
    let head = this.#testNames.get(sample);
    if (head === undefined) {
      const text = `${testMetricName(this.#prefix, this.#test, sample)}:`;
      head = { text, bytes: Buffer.byteLength(text) };
      this.#testNames.set(sample, head);
    }
    return head;
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
