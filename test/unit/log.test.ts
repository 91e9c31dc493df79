import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';

const at = Date.UTC(2026, 10, 22, 12, 0, 0);

describe('createLogger', () => {
  it('writes one logfmt line per event, quoting values that need it', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), wallNow: () => at, level: 'debug' });
    log.warn('config line skipped', { file: '/etc/a b.conf', line: 3, ok: false, none: undefined });
    expect(lines).toEqual(['ts=2026-11-22T12:00:00.000Z level=warn msg="config line skipped" file="/etc/a b.conf" line=3 ok=false']);
  });

  it('writes JSON on request', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), wallNow: () => at, format: 'json' });
    log.notice('summary', { test: 'home', ok: 60 });
    expect(JSON.parse(lines[0]!)).toEqual({ ts: '2026-11-22T12:00:00.000Z', level: 'notice', msg: 'summary', test: 'home', ok: 60 });
  });

  it('is quiet enough for cron mail by default: notice (the summary), warnings and errors only', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), wallNow: () => at });
    log.debug('d');
    log.info('i');
    log.notice('n');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => /level=(\w+)/.exec(l)![1])).toEqual(['notice', 'warn', 'error']);
  });

  it('escapes quotes, newlines and control characters so one event stays one line', () => {
    const lines: string[] = [];
    createLogger({ write: (l) => lines.push(l), wallNow: () => at }).warn('x', { v: 'a"b\nc' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('v="a\\"b\\nc"');
  });

  it('a closed pipe crashes the run: with stderr closed (its reader exited), a line is dropped, not written', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const writable = Object.getOwnPropertyDescriptor(process.stderr, 'writable');
    try {
      Object.defineProperty(process.stderr, 'writable', { value: false, configurable: true });
      expect(() => createLogger({ wallNow: () => at }).error('after EPIPE')).not.toThrow();
      expect(write).not.toHaveBeenCalled();
      Object.defineProperty(process.stderr, 'writable', { value: true, configurable: true });
      createLogger({ wallNow: () => at }).error('while open');
      expect(write).toHaveBeenCalledWith('ts=2026-11-22T12:00:00.000Z level=error msg="while open"\n');
    } finally {
      if (writable) Object.defineProperty(process.stderr, 'writable', writable);
      else delete (process.stderr as { writable?: boolean }).writable;
      write.mockRestore();
    }
  });
});
