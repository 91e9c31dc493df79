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

/** The StatsD lines of events under one expanded prefix; each test's metric names are built once. */
export class StatsdLines {
  readonly #prefix: string;
  /** Per test, the full StatsD name of each sample name seen. */
  readonly #names = new Map<string, Map<string, string>>();
  /** The event being written: its test, that test's names, and where its lines go (set by `event`). */
  #test = '';
  #testNames = new Map<string, string>();
  #line: (text: string) => void = () => undefined;
  /** Writes one figure of the event being written; made once, as it runs for every figure of every event. */
  readonly #visit: SampleVisitor = (name, kind, value) => this.#line(`${this.#nameOf(name)}:${formatValue(kind, value)}`);

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Calls `line` with each line of `event`, in `forEachSample` order. */
  event(event: MetricEvent, line: (text: string) => void): void {
    this.#test = event.test;
    this.#testNames = this.#namesOf(event.test);
    this.#line = line;
    forEachSample(event, this.#visit);
  }

  /** The line of an agent-level counter, e.g. `canihaz.agent.skipped:1|c`. */
  agent(counter: AgentCounter): string {
    return `${agentMetricName(this.#prefix, counter.name)}:${counter.value}|c`;
  }

  #namesOf(test: string): Map<string, string> {
    let names = this.#names.get(test);
    if (!names) {
      names = new Map();
      this.#names.set(test, names);
    }
    return names;
  }

  /** The full name of one figure of the event being written. */
  #nameOf(sample: string): string {
    let name = this.#testNames.get(sample);
    if (name === undefined) {
      name = testMetricName(this.#prefix, this.#test, sample);
      this.#testNames.set(sample, name);
    }
    return name;
  }
}

/** Batches lines into packets of at most `STATSD_MAX_BUFFER_BYTES` (a line longer than that goes alone). */
export class PacketBuilder {
  readonly #send: (packet: Packet) => void;
  #lines: string[] = [];
  #bytes = 0;

  /** `send` receives each packet once it is full or flushed. */
  constructor(send: (packet: Packet) => void) {
    this.#send = send;
  }

  /** Adds one line, sending the packet being built first when the line would not fit. */
  add(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
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
  if (kind === 'timing') return `${roundMs(value)}|ms`;
  return `${value}|${kind === 'counter' ? 'c' : 'g'}`;
}

/** Rounds to the microsecond, which keeps lines short without losing precision that matters. */
function roundMs(ms: number): number {
  return Number.isFinite(ms) ? Math.round(Math.max(0, ms) * 1000) / 1000 : 0;
}
