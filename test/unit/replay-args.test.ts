import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLAY_TIMEOUT_MS, replayQuery } from '../../src/commands/replay-args.js';
import { DEFAULT_DESTINATIONS } from '../../src/metrics/destination.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const query = (values: Record<string, unknown>) => replayQuery(values, NOW, { ...DEFAULT_DESTINATIONS, graphite: { host: 'carbon.internal', port: 2004 } });
const problems = (values: Record<string, unknown>) => {
  try {
    query(values);
  } catch (e) {
    return (e as Error).message.split('\n');
  }
  return [];
};

describe('replay options', () => {
  it.each([
    [{ to: ['graphite://127.0.0.1:2003'] }, { destination: { kind: 'graphite', host: '127.0.0.1', port: 2003 }, from: NOW - 3_600_000, to: NOW, tests: [], timeoutMs: DEFAULT_REPLAY_TIMEOUT_MS }],
    [{ to: ['GRAPHITE://[0:0::1]:2003/'], since: '2h' }, { destination: { kind: 'graphite', host: '::1', port: 2003 }, from: NOW - 7_200_000, to: NOW }],
    [{ to: ['graphite'], timeout: '5m', test: ['a', 'b'] }, { destination: { kind: 'graphite', host: 'carbon.internal', port: 2004 }, tests: ['a', 'b'], timeoutMs: 300_000 }],
    // --to twice: the destination and the end of the range, in either order.
    [{ to: ['2026-11-23T11:00:00Z', 'graphite://g:2003'], from: '2026-11-23T10:00:00Z' }, { destination: { kind: 'graphite', host: 'g', port: 2003 }, from: NOW - 7_200_000, to: NOW - 3_600_000 }],
    [{ to: ['graphite://g:2003'], from: '2026-11-22' }, { from: Date.UTC(2026, 10, 22), to: NOW }],
  ])('%j', (values, expected) => {
    expect(query(values)).toMatchObject(expected);
  });

  it.each([
    [{}, ['--to: give the destination, as in --to graphite://host:port (or --to graphite: the graphite setting)']],
    [{ to: ['statsd://127.0.0.1:8125'] }, ['--to: replay sends to Graphite only: expected graphite://host:port or graphite']],
    [{ to: ['graphite://a:1,graphite://b:2'] }, ['--to: replay sends to Graphite only: expected graphite://host:port or graphite']],
    [{ to: ['graphite://a:1', 'graphite://b:2'] }, ['--to: one destination at a time, got 2']],
    [{ to: ['graphite://host'] }, ['--to: "graphite://host": expected host:port, got "host"']],
    [{ to: ['graphite://g:1', '2026-11-23T11:00:00Z'] }, ['--to: an end time needs --from']],
    [{ to: ['graphite://g:1', '2026-11-23T11:00:00'], from: '2026-11-23T10:00:00Z' }, ['--to: give the time zone (Z for UTC), as in 2026-11-23T11:00:00Z: the journal is kept in UTC (or a destination such as graphite://host:port)']],
    [{ to: ['graphite://g:1'], since: '2h', from: '2026-11-23' }, ['--since: give either --since or --from/--to, not both']],
    [{ to: ['graphite://g:1'], from: '2026-11-24' }, ['--from: must be before --to (or before now)']],
    [{ to: ['graphite://g:1'], timeout: '0s' }, ['--timeout: expected a duration from 1s to 1h such as 30s or 5m, got "0s"']],
    [{ to: ['graphite://g:1'], timeout: '2h' }, ['--timeout: expected a duration from 1s to 1h such as 30s or 5m, got "2h"']],
    [{ to: ['graphite://g:1'], test: [''] }, ['--test: needs a test name']],
  ])('refuses %j', (values, expected) => {
    expect(problems(values)).toEqual(expected);
  });

  it('says every problem at once', () => {
    expect(problems({ since: 'soon', timeout: 'never' })).toHaveLength(3);
  });
});
