/** StatsD's text without I/O: lines of events, packets of at most 1400 bytes, the byte-bounded queue. */
import { describe, expect, it } from 'vitest';
import type { MetricEvent } from '../../src/events.js';
import { PacketBuilder, PacketQueue, STATSD_MAX_BUFFER_BYTES, statsdTagValue, StatsdLines, type Packet } from '../../src/metrics/statsd-lines.js';

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

describe('StatsdLines: latency bucket counters, summed per flush', () => {
  const exec = (test: string, latencyMs: number, ok = true): MetricEvent => ({ kind: 'execution', test, tickWallMs: tick, ok, ...(ok ? {} : { reason: 'timeout' }), latencyMs, lagMs: 0 });
  const flushed = (statsd: StatsdLines) => {
    const lines: [string, number][] = [];
    statsd.flushBuckets((line, bytes) => lines.push([line, bytes]));
    for (const [line, bytes] of lines) expect(bytes, line).toBe(Buffer.byteLength(line));
    return lines.map(([line]) => line);
  };

  it('sends, per test and flush, the cumulative count of each bound that has any (a latency on a bound counts in it), then starts over', () => {
    const statsd = new StatsdLines('canihaz');
    const none = () => undefined;
    for (const ms of [1, 1, 2, 99.5, 100]) statsd.event(exec('home', ms), none);
    statsd.event(exec('home', 100.001, false), none); // failed executions count, as in the latency timer
    statsd.event({ kind: 'aborted', test: 'home', tickWallMs: tick, latencyMs: 1 }, none); // aborted ones do not
    statsd.event(exec('api', 20_000), none);
    expect(flushed(statsd)).toEqual([
      'canihaz.home.latency.le_1:2|c',
      'canihaz.home.latency.le_2:3|c',
      ...['5', '10', '25', '50'].map((b) => `canihaz.home.latency.le_${b}:3|c`),
      'canihaz.home.latency.le_100:5|c',
      ...['250', '500', '1000', '2500', '5000', '10000', 'inf'].map((b) => `canihaz.home.latency.le_${b}:6|c`),
      'canihaz.api.latency.le_inf:1|c',
    ]);
    expect(flushed(statsd)).toEqual([]);
    statsd.event(exec('api', 7), none);
    expect(flushed(statsd)).toEqual(['10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', 'inf'].map((b) => `canihaz.api.latency.le_${b}:1|c`));
  });
});

describe('StatsdLines with statsd_tags', () => {
  const failure: MetricEvent = { kind: 'execution', test: 'search', tickWallMs: tick, ok: false, reason: 'timeout', latencyMs: 3, lagMs: 0.25, samples: [{ name: 'step.login', kind: 'timing', value: 2 }] };
  const linesOf = (statsd: StatsdLines, event: MetricEvent) => {
    const lines: string[] = [];
    statsd.event(event, (line, bytes) => {
      expect(bytes, line).toBe(Buffer.byteLength(line));
      lines.push(line);
    });
    statsd.flushBuckets((line) => lines.push(line));
    return lines;
  };

  it.each([
    [
      'dogstatsd',
      [
        'canihaz.failed:1|c|#host:web-1,test:search',
        'canihaz.failed.timeout:1|c|#host:web-1,test:search',
        'canihaz.latency:3|ms|#host:web-1,test:search',
        'canihaz.lag:0.25|ms|#host:web-1,test:search',
        'canihaz.step.login:2|ms|#host:web-1,test:search',
        'canihaz.latency.le_5:1|c|#host:web-1,test:search',
      ],
      'canihaz.agent.skipped:1|c|#host:web-1',
    ],
    [
      'telegraf',
      [
        'canihaz.failed,host=web-1,test=search:1|c',
        'canihaz.failed.timeout,host=web-1,test=search:1|c',
        'canihaz.latency,host=web-1,test=search:3|ms',
        'canihaz.lag,host=web-1,test=search:0.25|ms',
        'canihaz.step.login,host=web-1,test=search:2|ms',
        'canihaz.latency.le_5,host=web-1,test=search:1|c',
      ],
      'canihaz.agent.skipped,host=web-1:1|c',
    ],
    [
      'none',
      [
        'canihaz.search.failed:1|c',
        'canihaz.search.failed.timeout:1|c',
        'canihaz.search.latency:3|ms',
        'canihaz.search.lag:0.25|ms',
        'canihaz.search.step.login:2|ms',
        'canihaz.search.latency.le_5:1|c',
      ],
      'canihaz.agent.skipped:1|c',
    ],
  ] as const)('%s: the test and host as tags, the reason a path segment, agent counters tagged with the host', (format, expected, agent) => {
    const statsd = new StatsdLines('canihaz', { format, hostname: 'web-1.example.com' });
    const lines = linesOf(statsd, failure);
    // The first bucket line, then le_10 … le_inf: check the head and that every bound from le_5 is there.
    expect(lines.slice(0, 6)).toEqual(expected);
    expect(lines.length).toBe(5 + 12);
    expect(lines.at(-1)).toBe(expected[5].replace('le_5', 'le_inf'));
    expect(statsd.agent({ name: 'skipped', value: 1 })).toBe(agent);
  });

  it.each([
    ['web-1', 'web-1'],
    ['a,b|c#d:e=f g\\h', 'a_b_c_d_e_f_g_h'],
    ['tab\tnew\nline', 'tab_new_line'],
    ['é', '_'],
    ['', '_'],
  ])('a tag value is made safe for both syntaxes: %j → %j', (value, safe) => {
    expect(statsdTagValue(value)).toBe(safe);
  });

  it('sanitises the test and host in the tags of both syntaxes', () => {
    const odd: MetricEvent = { kind: 'dropped', test: 'a,b=c:d|e#f g', tickWallMs: tick };
    expect(linesOf(new StatsdLines('canihaz', { format: 'dogstatsd', hostname: 'h' }), odd)).toEqual(['canihaz.dropped:1|c|#host:h,test:a_b_c_d_e_f_g']);
    expect(linesOf(new StatsdLines('canihaz', { format: 'telegraf', hostname: 'h:1,x.lan' }), odd)).toEqual(['canihaz.dropped,host=h_1_x,test=a_b_c_d_e_f_g:1|c']);
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
