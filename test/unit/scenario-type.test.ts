import { describe, expect, it } from 'vitest';
import { RESERVED_SAMPLE_NAMES } from '../../src/events.js';
import { scenarioProbeType } from '../../src/probes/scenario/scenario-type.js';

const run = async () => undefined;
const fields = (o: Record<string, string | string[]>) => new Map(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

function typeOf(ns: Record<string, unknown>) {
  const built = scenarioProbeType('shop', '/etc/canihaz/types/shop.mjs', ns);
  if (!built.ok) throw new Error(built.reason);
  return built.type;
}

describe('scenarioProbeType: the module exports', () => {
  it.each([
    [{}, /has no default export function; write `export default async function \(ctx\)/],
    [{ default: 42 }, /has no default export function \(the default export is a number\)/],
    [{ default: run, setup: 'x' }, /export `setup` must be a function, got a string/],
    [{ default: run, teardown: {} }, /export `teardown` must be a function, got an object/],
    [{ default: run, params: [] }, /export `params` must be an object .*got an array/],
    [{ default: run, params: { Host: {} } }, /params key `Host`: expected a name matching \[a-z\]\[a-z0-9_\]\*/],
    [{ default: run, params: { 'a-b': {} } }, /params key `a-b`: expected a name/],
    [{ default: run, params: { timeout: {} } }, /params key `timeout`: `timeout` is a key every test accepts \(timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals\)/],
    [{ default: run, params: { concurrency: {} } }, /`concurrency` is a key every test accepts/],
    [{ default: run, params: { host: 'x' } }, /params key `host`: expected an object .*got a string/],
    [{ default: run, params: { host: { requird: true } } }, /params key `host`: unknown property `requird`; expected required, default, doc/],
    [{ default: run, params: { host: { required: 'yes' } } }, /`required` must be true or false, got a string/],
    [{ default: run, params: { port: { default: 443 } } }, /params key `port`: `default` must be a string .*got a number/],
    [{ default: run, params: { host: { doc: 1 } } }, /`doc` must be a string/],
    [{ default: run, params: { host: { required: true, default: 'a' } } }, /a required key takes no `default`/],
  ])('refuses %j', (ns, reason) => {
    const built = scenarioProbeType('shop', '/etc/canihaz/types/shop.mjs', ns);
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.reason).toMatch(reason);
  });

  it('accepts a module with a default function only, named after its type, concurrency 100', () => {
    const type = typeOf({ default: run, somethingElse: 1 });
    expect(type.name).toBe('shop');
    expect(type.defaultConcurrency).toBe(100);
  });
});

describe('scenario params: the line’s key=value fields', () => {
  const type = typeOf({
    default: run,
    params: { base_url: { required: true, doc: 'the site, e.g. https://shop.example' }, user: { default: 'probe' }, note: {} },
  });

  it('applies defaults; an optional key without default stays absent; timeout defaults to 10s', () => {
    expect(type.parse(fields({ base_url: 'http://x' }))).toEqual({ ok: true, options: { params: { base_url: 'http://x', user: 'probe' }, timeoutMs: 10_000 }, timeoutMs: 10_000 });
    expect(type.parse(fields({ base_url: 'http://x', user: 'ann', note: '', timeout: '2s' }))).toEqual({
      ok: true,
      options: { params: { base_url: 'http://x', user: 'ann', note: '' }, timeoutMs: 2_000 },
      timeoutMs: 2_000,
    });
  });

  it('reports every problem: unknown keys listing the accepted ones, a missing required key with its doc, a repeated key, a bad timeout', () => {
    const result = type.parse(fields({ usr: 'x', user: ['a', 'b'], timeout: '6m' }));
    expect(result).toEqual({
      ok: false,
      issues: [
        { field: 'usr', message: 'unknown key; shop accepts base_url, user, note, timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals' },
        { field: 'user', message: 'given more than once' },
        { field: 'timeout', message: 'must be at most 5m, got "6m"' },
        { field: 'base_url', message: 'is required (the site, e.g. https://shop.example)' },
      ],
    });
  });

  it('a module without params accepts only timeout', () => {
    expect(typeOf({ default: run }).parse(fields({ host: 'x' }))).toEqual({ ok: false, issues: [{ field: 'host', message: 'unknown key; shop accepts timeout, concurrency, start, end, for, step, ramp, then, repeat, arrivals' }] });
  });
});

describe('RESERVED_SAMPLE_NAMES', () => {
  it('holds every count, timing and figure the agent reports under a test', () => {
    expect([...RESERVED_SAMPLE_NAMES].sort()).toEqual(['aborted', 'count', 'days_left', 'dropped', 'failed', 'lag', 'latency', 'missed', 'ok', 'requested', 'started', 'step'].sort());
  });
});
