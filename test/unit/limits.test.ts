import { describe, expect, it } from 'vitest';
import { connectionBudget, fdLimitCode, limitHit, onLimitHit, softFdLimit } from '../../src/limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('fd limits', () => {
  it('reads the soft open-files limit from /proc/self/limits text', () => {
    expect(softFdLimit(LIMITS)).toBe(1024);
    expect(softFdLimit(LIMITS.replace('1024   ', 'unlimited'))).toBeUndefined();
    expect(softFdLimit('nothing here')).toBeUndefined();
    expect(typeof (softFdLimit() ?? 0)).toBe('number');
  });

  it.each([
    [undefined, Infinity],
    [1024, 832],
    [4096, 3520],
    [65536, 57280],
    [100, 23],
    [16, 8],
  ])('budgets connections under a soft limit of %s: %s', (limit, budget) => {
    expect(connectionBudget(limit)).toBe(budget);
  });

  it('finds EMFILE and ENFILE on an error or its cause', () => {
    expect(fdLimitCode(Object.assign(new Error('x'), { code: 'EMFILE' }))).toBe('EMFILE');
    expect(fdLimitCode(new Error('x', { cause: Object.assign(new Error('y'), { code: 'ENFILE' }) }))).toBe('ENFILE');
    expect(fdLimitCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(fdLimitCode('EMFILE')).toBeUndefined();
  });

  it('says a limit was hit once, loudly, not once per failure', () => {
    const heard: [string, Record<string, string | number>][] = [];
    onLimitHit((message, fields) => heard.push([message, fields]));
    for (let i = 0; i < 100; i++) limitHit('EMFILE', { where: 'http connect' });
    limitHit('connections', { connections: 832 });
    onLimitHit(undefined);
    expect(heard.map(([, f]) => f.limit)).toEqual(['EMFILE', 'connections']);
    expect(heard[0]![0]).toMatch(/file descriptor limit reached .*ulimit -n/);
    expect(heard[0]![1]).toMatchObject({ where: 'http connect' });
  });
});
