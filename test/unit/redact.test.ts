import { describe, expect, it } from 'vitest';
import { describeChar, quotePrefix, quoteValue, redactSecrets, redactUrl } from '../../src/redact.js';

describe('redactUrl: userinfo, query values and fragments are masked, valid or not', () => {
  it.each([
    ['http://h/path', 'http://h/path'],
    ['http://user:pw@h/', 'http://***@h/'],
    ['http://user@h/', 'http://***@h/'],
    ['https://u:p@h:8443/a?token=t&page=2', 'https://***@h:8443/a?token=***&page=***'],
    ['http://h/?flag&k=', 'http://h/?***&k='],
    ['http://h/?&&a=1', 'http://h/?&&a=***'],
    ['http://h/#access_token=x', 'http://h/#***'],
    ['http://h/#', 'http://h/#'],
    ['http://u:p@bad host/', 'http://***@bad host/'],
    ['http://u:a#b/c@h/', 'http://***@h/'],
    ['http://u:a/b@h/x', 'http://***@h/x'],
    ['user:pw@h:8125', '***@h:8125'],
    ['h:2003/?token=x', 'h:2003/?token=***'],
    ['statsd://u:p@h:8125', 'statsd://***@h:8125'],
    ['http://h/?email=a@b.c', 'http://h/?email=***'],
    ['', ''],
  ])('%j → %j', (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});

describe('redactSecrets: URL-looking words of a free-form value', () => {
  it('masks every URL-looking word and leaves the others alone', () => {
    expect(redactSecrets('see http://u:p@h/?t=1 and user:pw@host or plain words: a=b')).toBe('see http://***@h/?t=*** and ***@host or plain words: a=b');
  });
});

describe('quoteValue: escaped, masked, cut at 80 characters', () => {
  it.each([
    ['abc', '"abc"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\u0000\u001b[31m\r\n\t', '"\\u0000\\u001b[31m\\r\\n\\t"'],
    ['\u007f\u0085\u009b2J\u2028\u202eabc\u2066\ufeff', '"\\u007f\\u0085\\u009b2J\\u2028\\u202eabc\\u2066\\ufeff"'],
    ['é€🙂', '"é€🙂"'],
    ['http://u:p@h/', '"http://***@h/"'],
    ['x'.repeat(80), `"${'x'.repeat(80)}"`],
    ['x'.repeat(81), `"${'x'.repeat(80)}…" (1 more character)`],
    ['y'.repeat(1_000_000), `"${'y'.repeat(80)}…" (999920 more characters)`],
    ['🙂'.repeat(81), `"${'🙂'.repeat(80)}…" (1 more character)`],
  ])('%j', (input, output) => {
    expect(quoteValue(input)).toBe(output);
  });
});

describe('quotePrefix: only the leading word of a value that may be a secret', () => {
  it.each([
    ['novalue', 'one word of 7 characters (not shown)'],
    ['ghp_0123456789abcdefghijABCDEFGHIJ', 'one word of 34 characters (not shown)'],
    ['Authorization: Bearer abc', '"Authorization…"'],
    ['url http://u:p@h/', '"url…"'],
    ['timeout 5s', '"timeout…"'],
    [' leading space', '14 characters (not shown)'],
    [':', '1 character (not shown)'],
    [`${'w'.repeat(25)} x`, '27 characters (not shown)'],
  ])('%j → %s', (input, output) => {
    expect(quotePrefix(input)).toBe(output);
  });
});

describe('describeChar', () => {
  it('names a character by code point', () => {
    expect([describeChar('\u0001'), describeChar('€'), describeChar('🙂')]).toEqual(['U+0001', 'U+20AC', 'U+1F642']);
  });
});
