import { describe, expect, expectTypeOf, it } from 'vitest';
import { describeShape, parseShape, parseUtcTime, SHAPE_KEYS, type LoadShapeSpec } from '../../src/config/shape-params.js';
import { evenTicks, type LoadShape } from '../../src/schedule/shape.js';

const START = '2026-12-01T14:00:00Z';
const T0 = Date.UTC(2026, 11, 1, 14, 0);
const MIN = 60_000;

/** Parses `frequency|key=value|…` as a line's frequency field and its keys. */
const parse = (line: string, maxFrequency = 60_000) => {
  const [frequency, ...fields] = line.split('|');
  const params = new Map<string, string[]>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    params.set(f.slice(0, eq), [...(params.get(f.slice(0, eq)) ?? []), f.slice(eq + 1)]);
  }
  return parseShape(frequency!, params, { maxFrequency });
};
const shapeOf = (line: string) => {
  const r = parse(line);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r;
};
const problems = (line: string, maxFrequency?: number) => {
  const r = parse(line, maxFrequency);
  return r.ok ? [] : r.issues.map((i) => `${i.field}: ${i.message}`);
};

describe('parseShape: valid lines', () => {
  it.each([
    ['60', { rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' }, 60, true],
    ['0', { rates: { kind: 'constant', perMinute: 0 }, arrivals: 'even' }, 0, true],
    [`60|start=${START}`, { start: T0, rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' }, 60, false],
    [`60|start=${START}|for=30m`, { start: T0, end: T0 + 30 * MIN, rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' }, 60, false],
    ['60|end=2026-12-01T15:00:00Z', { end: T0 + 60 * MIN, rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' }, 60, false],
    ['60|arrivals=poisson', { rates: { kind: 'constant', perMinute: 60 }, arrivals: 'poisson' }, 60, false],
    ['60|arrivals=even', { rates: { kind: 'constant', perMinute: 60 }, arrivals: 'even' }, 60, true],
    [
      `60,120,240,480|step=5m|start=${START}`,
      { start: T0, rates: { kind: 'steps', perMinute: [60, 120, 240, 480], stepMs: 5 * MIN, then: 'hold' }, arrivals: 'even' },
      480,
      false,
    ],
    [
      `0, 60 ,0|step=90s|start=${START}|then=stop`,
      { start: T0, rates: { kind: 'steps', perMinute: [0, 60, 0], stepMs: 90_000, then: 'stop' }, arrivals: 'even' },
      60,
      false,
    ],
    [
      `5,10,15,20|step=1m|start=${START}|then=repeat|repeat=3`,
      { start: T0, rates: { kind: 'steps', perMinute: [5, 10, 15, 20], stepMs: MIN, then: 'repeat', cycles: 3 }, arrivals: 'even' },
      20,
      false,
    ],
    [
      `60..600|ramp=10m|start=${START}|end=2026-12-01T16:00:00Z|arrivals=poisson`,
      { start: T0, end: T0 + 120 * MIN, rates: { kind: 'ramp', from: 60, to: 600, rampMs: 10 * MIN, then: 'hold' }, arrivals: 'poisson' },
      600,
      false,
    ],
    [
      `600..0|ramp=1m|start=${START}|then=repeat`,
      { start: T0, rates: { kind: 'ramp', from: 600, to: 0, rampMs: MIN, then: 'repeat' }, arrivals: 'even' },
      600,
      false,
    ],
  ])('%s', (line, shape, peak, flat) => {
    expect(shapeOf(line)).toEqual({ ok: true, shape, peak, flat });
  });

  it('reads only the shape keys: a probe key beside them changes nothing', () => {
    expect(shapeOf(`60|url=http://x/|start=${START}`).shape.start).toBe(T0);
    expect([...SHAPE_KEYS].sort()).toEqual(['arrivals', 'end', 'for', 'ramp', 'repeat', 'start', 'step', 'then']);
  });

  it('a parsed shape is the Schedule room’s LoadShape, and plans', () => {
    expectTypeOf<LoadShapeSpec>().toEqualTypeOf<LoadShape>();
    const { shape } = shapeOf(`60,120|step=30s|start=${START}`);
    expect(evenTicks(shape, { from: T0, to: T0 + MIN }, 0).count).toBe(30 + 60);
  });
});

describe('parseUtcTime', () => {
  it.each([
    ['2026-12-01T14:00:00Z', T0],
    ['2026-12-01T14:00Z', T0],
    ['2026-12-01t14:00:00z', T0],
    ['2026-12-01T14:00:00.250Z', T0 + 250],
    ['2026-12-01T16:00:00+02:00', T0],
    ['2026-12-01T09:30:00-04:30', T0],
    ['2026-12-01T00:30:00+01:00', Date.UTC(2026, 10, 30, 23, 30)],
    // No DST anywhere: the last Sunday of March at 02:30 is a plain UTC instant.
    ['2026-03-29T02:30:00Z', Date.UTC(2026, 2, 29, 2, 30)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
  ])('%s', (text, ms) => {
    expect(parseUtcTime(text)).toBe(ms);
  });

  it.each([
    ['2026-12-01T14:00:00', '"2026-12-01T14:00:00" has no time zone; add Z for UTC, e.g. 2026-12-01T14:00:00Z'],
    ['2026-12-01', 'expected a UTC time such as 2026-12-01T14:00:00Z, got "2026-12-01"'],
    ['2026-12-01 14:00:00Z', 'expected a UTC time such as 2026-12-01T14:00:00Z, got "2026-12-01 14:00:00Z"'],
    ['1764597600', 'expected a UTC time such as 2026-12-01T14:00:00Z, got "1764597600"'],
    ['2026-12-01T14:00:00.1234Z', 'expected a UTC time such as 2026-12-01T14:00:00Z, got "2026-12-01T14:00:00.1234Z"'],
    ['2026-02-29T00:00:00Z', 'is not a valid date and time, got "2026-02-29T00:00:00Z"'],
    ['2026-13-01T00:00:00Z', 'is not a valid date and time, got "2026-13-01T00:00:00Z"'],
    ['2026-12-01T24:00:00Z', 'is not a valid date and time, got "2026-12-01T24:00:00Z"'],
    ['2026-12-01T14:60:00Z', 'is not a valid date and time, got "2026-12-01T14:60:00Z"'],
    ['2026-12-01T14:00:60Z', 'is not a valid date and time, got "2026-12-01T14:00:60Z"'],
    ['2026-12-01T14:00:00+24:00', 'has an invalid zone offset "+24:00"'],
    ['1969-12-31T23:59:59Z', 'must be in 1970 or later, got "1969-12-31T23:59:59Z"'],
  ])('%s → %s', (text, error) => {
    expect(parseUtcTime(text)).toEqual({ error });
  });
});

describe('parseShape: invalid lines, every problem named by its field', () => {
  it.each([
    ['abc', ['frequency: expected a whole number of executions per minute, got "abc"']],
    ['1.5', ['frequency: expected a whole number of executions per minute, got "1.5"']],
    ['60001', ['frequency: must be at most 60000 per minute (max_frequency), got 60001']],
    [`60,120|step=1m|start=${START}|x=1`, []],
    ['60,120', ['step: required with a list of rates (each holds this long), e.g. step=5m', 'start: required with steps or a ramp (they run from it), e.g. start=2026-12-01T14:00:00Z']],
    [`60,120|start=${START}`, ['step: required with a list of rates (each holds this long), e.g. step=5m']],
    [`60|step=5m`, ['step: applies only to a list of rates such as 60,120,240, got frequency "60"']],
    [`60..600|start=${START}`, ['ramp: required with a ramp (it rises over this long), e.g. ramp=10m']],
    [`60|ramp=10m`, ['ramp: applies only to a ramp such as 60..600, got frequency "60"']],
    [`60,120|ramp=10m|step=1m|start=${START}`, ['ramp: applies only to a ramp such as 60..600, got frequency "60,120"']],
    [`60..|ramp=1m|start=${START}`, ['frequency: expected a ramp of two whole numbers of executions per minute such as 60..600, got "60.."']],
    [`60..600..900|ramp=1m|start=${START}`, ['frequency: expected a ramp of two whole numbers of executions per minute such as 60..600, got "60..600..900"']],
    [`60..70000|ramp=1m|start=${START}`, ['frequency: ramp end: must be at most 60000 per minute (max_frequency), got 70000']],
    [`60,,120|step=1m|start=${START}`, ['frequency: step 2: expected a whole number of executions per minute in a list such as 60,120,240, got ""']],
    [`60,-1|step=1m|start=${START}`, ['frequency: step 2: expected a whole number of executions per minute in a list such as 60,120,240, got "-1"']],
    [`60,70000,80000|step=1m|start=${START}`, ['frequency: step 2: must be at most 60000 per minute (max_frequency), got 70000', 'frequency: step 3: must be at most 60000 per minute (max_frequency), got 80000']],
    [`60,120|step=0s|start=${START}`, ['step: must be greater than zero, got "0s"']],
    [`60,120|step=5|start=${START}`, ['step: "5" has no unit; add one, e.g. 5s or 5ms']],
    ['60|start=2026-12-01T14:00:00', ['start: "2026-12-01T14:00:00" has no time zone; add Z for UTC, e.g. 2026-12-01T14:00:00Z']],
    [`60|start=${START}|end=2026-12-01T13:00:00Z`, ['end: must be after start (2026-12-01T14:00:00.000Z), got 2026-12-01T13:00:00.000Z']],
    [`60|start=${START}|end=${START}`, ['end: must be after start (2026-12-01T14:00:00.000Z), got 2026-12-01T14:00:00.000Z']],
    [`60|start=${START}|end=2026-12-01T15:00:00Z|for=30m`, ['for: give end= or for=, not both']],
    ['60|for=30m', ['for: needs start= (for= counts from it); or give end= as a time']],
    [`60|start=${START}|for=0m`, ['for: must be greater than zero, got "0m"']],
    [`60,120|step=1m|start=${START}|then=forever`, ['then: expected hold, stop or repeat, got "forever"']],
    ['60|then=stop', ['then: applies only to steps or a ramp, got frequency "60"']],
    [`60,120|step=1m|start=${START}|repeat=3`, ['repeat: needs then=repeat, got no then=']],
    [`60,120|step=1m|start=${START}|then=hold|repeat=3`, ['repeat: needs then=repeat, got then="hold"']],
    [`60,120|step=1m|start=${START}|then=repeat|repeat=0`, ['repeat: expected a whole number of cycles from 1 to 1000000, got "0"']],
    [`60,120|step=1m|start=${START}|then=repeat|repeat=2.5`, ['repeat: expected a whole number of cycles from 1 to 1000000, got "2.5"']],
    ['60|arrivals=burst', ['arrivals: expected even or poisson, got "burst"']],
    [`60|start=${START}|start=${START}`, ['start: given more than once']],
  ])('%s', (line, expected) => {
    expect(problems(line)).toEqual(expected);
  });

  it('honours a lower max_frequency', () => {
    expect(problems(`60,100|step=1m|start=${START}`, 99)).toEqual(['frequency: step 2: must be at most 99 per minute (max_frequency), got 100']);
  });

  it('reports every problem of a line at once', () => {
    expect(problems('60,x|then=bogus|repeat=2|arrivals=no|for=1m').map((p) => p.split(':')[0])).toEqual([
      'frequency',
      'for',
      'step',
      'start',
      'then',
      'repeat',
      'arrivals',
    ]);
  });

  it('caps a list at 1000 steps', () => {
    expect(problems(`${Array.from({ length: 1_001 }, () => '1').join(',')}|step=1s|start=${START}`)).toEqual(['frequency: expected at most 1000 steps, got 1001']);
  });

  it('masks a secret-looking value it echoes', () => {
    expect(problems('60|arrivals=https://user:hunter2@x/').join('\n')).not.toContain('hunter2');
  });
});

describe('describeShape', () => {
  it.each([
    ['60', '60/min, even arrivals'],
    [`60,120,240|step=5m|start=${START}|then=stop`, 'steps 60,120,240/min of 5m each, then stop, even arrivals, from 2026-12-01T14:00:00.000Z'],
    [`5,10|step=1m|start=${START}|then=repeat|repeat=3|for=1h`, 'steps 5,10/min of 1m each, repeated 3 times in all, even arrivals, from 2026-12-01T14:00:00.000Z until 2026-12-01T15:00:00.000Z'],
    [`60..600|ramp=10m|start=${START}|arrivals=poisson`, 'ramp 60..600/min over 10m, then hold, poisson arrivals, from 2026-12-01T14:00:00.000Z'],
  ])('%s → %s', (line, text) => {
    expect(describeShape(shapeOf(line).shape)).toBe(text);
  });
});
