/** StatsD's text without I/O: lines of events, packets of at most 1400 bytes, the byte-bounded queue. */
import { describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { PacketBuilder, PacketQueue, STATSD_MAX_BUFFER_BYTES, StatsdLines, type Packet } from '../../src/metrics/statsd-lines.js';

const tick = Date.UTC(2026, 10, 22, 12, 0, 0);

describe('StatsdLines', () => {
  it.each<[string, MetricEvent, string[]]>([
    ['an ok execution', { kind: 'execution', test: 'home', tickWallMs: tick, ok: true, latencyMs: 1.2345678, lagMs: 0.5 }, ['canihaz.home.ok:1|c', 'canihaz.home.latency:1.235|ms', 'canihaz.home.lag:0.5|ms']],
    [
      'a failure with its reason and own samples',
      {
        kind: 'execution',
        test: 'my test',
        tickWallMs: tick,
        ok: false,
        reason: 'status_503',
        latencyMs: -1,
        lagMs: Infinity,
        samples: [
          { name: 'step.login', kind: 'timing', value: 12.0004 },
          { name: 'items', kind: 'gauge', value: 3 },
        ],
      },
      ['canihaz.my_test.failed:1|c', 'canihaz.my_test.failed.status_503:1|c', 'canihaz.my_test.latency:0|ms', 'canihaz.my_test.lag:0|ms', 'canihaz.my_test.step.login:12|ms', 'canihaz.my_test.items:3|g'],
    ],
    ['missed ticks', { kind: 'missed', test: 'home', tickWallMs: tick, count: 4 }, ['canihaz.home.missed:4|c']],
    ['no missed tick', { kind: 'missed', test: 'home', tickWallMs: tick, count: 0 }, []],
    ['a plan', { kind: 'planned', test: 'home', tickWallMs: tick, ticks: 60 }, []],
  ])('%s', (_what, event, expected) => {
    const lines: string[] = [];
    const statsd = new StatsdLines('canihaz');
    statsd.event(event, (line) => lines.push(line));
    statsd.event(event, (line) => lines.push(line)); // the second time from the name cache
    expect(lines).toEqual([...expected, ...expected]);
  });

  it('writes an agent counter under `agent`', () => {
    expect(new StatsdLines('canihaz').agent({ name: 'skipped', value: 1 })).toBe('canihaz.agent.skipped:1|c');
  });
});

describe('PacketBuilder', () => {
  it('fills a packet up to 1400 bytes (a newline after each line), starts the next with the line that does not fit, and sends a partial one on flush', () => {
    const packets: Packet[] = [];
    const builder = new PacketBuilder((p) => packets.push(p));
    const line = 'x'.repeat(99); // 100 bytes with its newline
    for (let i = 0; i < 15; i++) builder.add(line);
    expect(packets).toEqual([{ text: Array(14).fill(line).join('\n'), lines: 14 }]);
    expect(Buffer.byteLength(packets[0]!.text) + 1).toBeLessThanOrEqual(STATSD_MAX_BUFFER_BYTES);
    builder.flush();
    builder.flush(); // nothing left: no empty packet
    expect(packets).toEqual([{ text: Array(14).fill(line).join('\n'), lines: 14 }, { text: line, lines: 1 }]);
  });

  it('sends a line longer than a packet alone, and counts bytes, not characters', () => {
    const packets: Packet[] = [];
    const builder = new PacketBuilder((p) => packets.push(p));
    builder.add('a');
    builder.add('b'.repeat(2_000));
    builder.add('é'.repeat(700)); // 1400 bytes: does not fit after anything
    builder.flush();
    expect(packets.map((p) => p.lines)).toEqual([1, 1, 1]);
  });
});

describe('PacketQueue', () => {
  it('keeps packets up to its byte bound (text and a newline each), refuses beyond, and gives them back oldest first', () => {
    const queue = new PacketQueue(20);
    const p = (text: string): Packet => ({ text, lines: 1 });
    expect(queue.push(p('123456789'))).toBe(true); // 10 bytes
    expect(queue.push(p('abcdefghi'))).toBe(true); // 20 bytes
    expect(queue.push(p('z'))).toBe(false);
    expect(queue.length).toBe(2);
    expect(queue.takeAll().map((x) => x.text)).toEqual(['123456789', 'abcdefghi']);
    expect(queue.length).toBe(0);
    expect(queue.push(p('z'))).toBe(true); // the bound counts what is held now
  });
});
