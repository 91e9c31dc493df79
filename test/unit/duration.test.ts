import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';

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
    [`${'9'.repeat(400)}h`, `is too large, got "${'9'.repeat(400)}h"`],
  ])('%j is rejected', (text, error) => {
    expect(parseDuration(text)).toEqual({ error });
  });
});
