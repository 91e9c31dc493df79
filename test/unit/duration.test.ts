import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/probes/params.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['0.25m', 15_000],
    ['+3s', 3_000],
    [' 10s ', 10_000],
    ['1ms', 1],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['5', '"5" has no unit; add one, e.g. 5s or 5ms'],
    ['1.5', '"1.5" has no unit; add one, e.g. 1.5s or 1.5ms'],
    ['0', '"0" has no unit; add one, e.g. 0s or 0ms'],
    ['0s', 'must be greater than zero, got "0s"'],
    ['0.0ms', 'must be greater than zero, got "0.0ms"'],
    ['-5s', 'must be greater than zero, got "-5s"'],
    ['', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got ""'],
    ['abc', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "abc"'],
    ['5 s', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "5 s"'],
    ['5S', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "5S"'],
    ['5sec', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "5sec"'],
    ['1m30s', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "1m30s"'],
    ['1.s', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "1.s"'],
    ['1e3ms', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "1e3ms"'],
    ['Infinitys', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "Infinitys"'],
    [`${'9'.repeat(400)}h`, `is too large, got "${'9'.repeat(80)}…" (321 more characters)`],
    ['9007199254740992ms', 'is too large, got "9007199254740992ms"'],
    ['ms', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "ms"'],
    ['5s\u0000', 'expected a duration such as 500ms, 5s, 1.5s or 1m, got "5s\\u0000"'],
  ])('%j is rejected', (text, error) => {
    expect(parseDuration(text)).toEqual({ error });
  });
});

// Regression (issue 6): "Timeouts that pass `check` and fail every execution" — 1.0005s, 1.5ms and
// 0.0001ms were accepted as fractional milliseconds, which undici rejects on every request.
describe('timeouts that pass check and fail every execution: durations are whole milliseconds', () => {
  it.each([
    ['1.0005s', 'must be a whole number of milliseconds, got "1.0005s"; write e.g. 1001ms'],
    ['1.5ms', 'must be a whole number of milliseconds, got "1.5ms"; write e.g. 2ms'],
    ['0.0001ms', 'must be a whole number of milliseconds, got "0.0001ms"; write e.g. 1ms'],
    ['0.0001s', 'must be a whole number of milliseconds, got "0.0001s"; write e.g. 1ms'],
    ['1.00001m', 'must be a whole number of milliseconds, got "1.00001m"; write e.g. 60001ms'],
  ])('%j is rejected', (text, error) => {
    expect(parseDuration(text)).toEqual({ error });
  });

  it.each([
    ['1.001s', 1_001],
    ['0.001s', 1],
    ['0.29s', 290],
    ['0.1s', 100],
    ['1.0000ms', 1],
    ['0.5m', 30_000],
    ['0.0001h', 360],
    ['4.999s', 4_999],
  ])('%j is exactly %d ms (decimal arithmetic, no float error)', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('gives an integer for every value with at most three decimals of seconds', () => {
    for (let i = 1; i <= 5_000; i++) {
      const text = `${Math.floor(i / 1000)}.${String(i % 1000).padStart(3, '0')}s`;
      expect(parseDuration(text), text).toBe(i);
    }
  });
});
