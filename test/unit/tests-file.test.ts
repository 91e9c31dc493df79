import { describe, expect, it } from 'vitest';
import { createParseState, formatLineError, parseTestsText } from '../../src/config/tests-file.js';
import { httpProbeType } from '../../src/probes/http.js';
import { createProbeRegistry } from '../../src/probes/registry.js';
import { fakeProbeType } from '../support/fake-probe.js';

const fake = fakeProbeType();
const opts = { probeTypes: createProbeRegistry([fake, httpProbeType]) };
const parse = (text: string, maxFrequency?: number) =>
  parseTestsText(text, 'tests.conf', { ...opts, ...(maxFrequency ? { maxFrequency } : {}) });
const errs = (text: string, maxFrequency?: number) => parse(text, maxFrequency).errors.map(formatLineError);

describe('parseTestsText: good lines', () => {
  it.each([
    ['a|fake|60|statsd', { name: 'a', frequency: 60, destinations: [{ kind: 'statsd', protocol: 'udp', host: '127.0.0.1', port: 8125 }] }],
    ['  a | fake | 0 | none ', { name: 'a', frequency: 0, destinations: [{ kind: 'none' }] }],
    ['a|fake|5|graphite', { destinations: [{ kind: 'graphite', host: '127.0.0.1', port: 2003 }] }],
    ['a|fake|5|statsd://10.0.0.1:9125,graphite://[::1]:2004,console', {
      destinations: [
        { kind: 'statsd', protocol: 'udp', host: '10.0.0.1', port: 9125 },
        { kind: 'graphite', host: '::1', port: 2004 },
        { kind: 'console' },
      ],
    }],
    ['a|fake|5|statsd+tcp://localhost:8126', { destinations: [{ kind: 'statsd', protocol: 'tcp', host: 'localhost', port: 8126 }] }],
    // Two spellings of one server are one destination, so each execution is counted there once.
    ['a|fake|5|statsd://Stats.Internal:8125,statsd://stats.internal:8125', { destinations: [{ kind: 'statsd', protocol: 'udp', host: 'stats.internal', port: 8125 }] }],
    ['a|fake|5|graphite://[::1]:2003,graphite://[0:0::1]:2003,graphite://[0:0:0:0:0:0:0:1]:2003', { destinations: [{ kind: 'graphite', host: '::1', port: 2003 }] }],
    ['a|fake|5|none|concurrency=7', { concurrency: 7 }],
    ['a|fake|5|none', { concurrency: 100, timeoutMs: 1000 }],
    ['A_b-9|fake|60000|console', { name: 'A_b-9', frequency: 60_000 }],
    ['a|fake|5|none|ms=12.5', { options: { ms: 12.5 } }],
    ['a|fake|5|none|fail=x%7Cy', { options: { ms: 0, fail: 'x|y' } }],
    ['a|fake|5|none|fail=a=b&c d', { options: { ms: 0, fail: 'a=b&c d' } }],
  ])('%s', (line, expected) => {
    const { specs, errors } = parse(line);
    expect(errors).toEqual([]);
    expect(specs).toHaveLength(1);
    expect(specs[0]).toMatchObject({ line: 1, file: 'tests.conf', ...expected });
  });

  it('skips blank and comment lines, accepts CRLF and a BOM, keeps line numbers', () => {
    const { specs, errors } = parse('\uFEFF# comment\r\n\r\n   # indented comment\r\na|fake|1|none\r\n\t\r\nb|fake|2|none');
    expect(errors).toEqual([]);
    expect(specs.map((s) => [s.name, s.line])).toEqual([
      ['a', 4],
      ['b', 6],
    ]);
  });
});

describe('parseTestsText: bad lines are reported with file, line and field', () => {
  it.each([
    ['a|fake|abc|none', ['tests.conf:1: frequency: expected a whole number of executions per minute, got "abc"']],
    ['a|fake|-5|none', ['tests.conf:1: frequency: expected a whole number of executions per minute, got "-5"']],
    ['a|fake|1.5|none', ['tests.conf:1: frequency: expected a whole number of executions per minute, got "1.5"']],
    ['a|fake|60001|none', ['tests.conf:1: frequency: must be at most 60000 per minute (max_frequency), got 60001']],
    ['a b|fake|1|none', ['tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "a b"']],
    ['a.b|fake|1|none', ['tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "a.b"']],
    [`${'x'.repeat(65)}|fake|1|none`, [`tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "${'x'.repeat(65)}"`]],
    ['agent|fake|1|none', ['tests.conf:1: name: "agent" is reserved (its metrics would collide with <prefix>.agent.*); choose another name']],
    ['a|fake|1', ['tests.conf:1: line: expected at least 4 fields test_name|test_type|test_frequency|metrics_destination, got 3']],
    ['a|nope|1|none', ['tests.conf:1: type: unknown test type "nope"; known types: fake, http']],
    ['a|fake|1|udp', [
      'tests.conf:1: destination: unknown destination "udp"; expected statsd, graphite, console, none, statsd://host:port, statsd+tcp://host:port or graphite://host:port',
    ]],
    ['a|fake|1|statsd://host', ['tests.conf:1: destination: "statsd://host": expected host:port, got "host"']],
    ['a|fake|1|graphite://h:70000', ['tests.conf:1: destination: "graphite://h:70000": port must be 1-65535, got 70000']],
    ['a|fake|1|graphite://[stats]:2003', ['tests.conf:1: destination: "graphite://[stats]:2003": expected an IPv6 address inside [ ], got "stats"']],
    ['a|fake|1|none,console', ['tests.conf:1: destination: "none" cannot be combined with other destinations']],
    ['a|fake|1|', ['tests.conf:1: destination: is empty; expected statsd, graphite, console, none or a statsd:// or graphite:// URL']],
    ['a|fake|1|none|bogus=1', ['tests.conf:1: bogus: unknown key; fake accepts ms, fail']],
    ['a|fake|1|none|novalue', ['tests.conf:1: field 5: expected key=value, got one word of 7 characters (not shown)']],
    ['a|fake|1|none|ms=1|=x', ['tests.conf:1: field 6: expected key=value, got nothing before "="']],
    // Secrets in error messages: a field without its = may be a header or half a token; only a leading name is shown.
    ['a|fake|1|none|Authorization: Bearer tok3n', ['tests.conf:1: field 5: expected key=value, got "Authorization…"']],
    ['a|fake|1|none|ghp_tok3nTOK3Ntok3nTOK3N', ['tests.conf:1: field 5: expected key=value, got one word of 24 characters (not shown)']],
    ['a|fake|1|none|url http://u:pw@h/?q=tok3n', ['tests.conf:1: field 5: expected key=value with a key of letters, digits, _ . -, got "url…"']],
    ['a|fake|1|none|concurrency=0', ['tests.conf:1: concurrency: must be at least 1']],
    ['a|fake|1|none|concurrency=x', ['tests.conf:1: concurrency: expected a whole number >= 1, got "x"']],
    ['a|fake|1|none|concurrency=1|concurrency=2', ['tests.conf:1: concurrency: given more than once']],
    // Several problems on one line are all reported.
    ['a b|nope|x|none', [
      'tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "a b"',
      'tests.conf:1: frequency: expected a whole number of executions per minute, got "x"',
      'tests.conf:1: type: unknown test type "nope"; known types: fake, http',
    ]],
  ])('%s', (line, expected) => {
    expect(errs(line)).toEqual(expected);
    expect(parse(line).specs).toEqual([]);
  });

  it('honours a lower max_frequency', () => {
    expect(errs('a|fake|100|none', 99)).toEqual(['tests.conf:1: frequency: must be at most 99 per minute (max_frequency), got 100']);
  });

  it('max_frequency: the error names the file, the line and the limit', () => {
    const { specs, errors } = parseTestsText('ok|fake|10|none\nflood|fake|600000|none\n', '/etc/canihaz/tests.conf', { ...opts });
    expect(specs.map((s) => s.name)).toEqual(['ok']);
    expect(errors.map(formatLineError)).toEqual(['/etc/canihaz/tests.conf:2: frequency: must be at most 60000 per minute (max_frequency), got 600000']);
  });

  it('rejects a duplicate name, keeping the first', () => {
    const { specs, errors } = parse('a|fake|1|none\na|fake|2|none');
    expect(specs.map((s) => s.frequency)).toEqual([1]);
    expect(errors.map(formatLineError)).toEqual(['tests.conf:2: name: "a" is already used at tests.conf:1']);
  });

  it('keeps every good line around a bad one', () => {
    const { specs, errors } = parse('good1|fake|10|none\nbad|fake|abc|none\ngood2|fake|20|none');
    expect(specs.map((s) => s.name)).toEqual(['good1', 'good2']);
    expect(errors.map((e) => [e.line, e.field])).toEqual([[2, 'frequency']]);
  });

  it('a lone CR line ending (old Mac file) ends a line: every line runs and is numbered as an editor shows it', () => {
    const { specs, errors } = parse('# old Mac\ra|fake|1|none\rb|fake|x|none\r\nc|fake|3|none\n\rd|fake|4|none');
    expect(specs.map((s) => [s.name, s.line])).toEqual([['a', 2], ['c', 4], ['d', 6]]);
    expect(errors.map(formatLineError)).toEqual(['tests.conf:3: frequency: expected a whole number of executions per minute, got "x"']);
  });

  it('check echoes raw control bytes and 1 MB values: every echoed value is quoted with escapes and cut at 80 characters', () => {
    expect(errs('a|fake|6\u0001\u001b[2J0|none')).toEqual(['tests.conf:1: frequency: expected a whole number of executions per minute, got "6\\u0001\\u001b[2J0"']);
    const huge = 'x'.repeat(1_000_000);
    const out = errs(`a|${huge}|1|none`);
    expect(out).toEqual([`tests.conf:1: type: unknown test type "${'x'.repeat(80)}…" (999920 more characters); known types: fake, http`]);
    expect(errs(`${'n'.repeat(200)}|fake|1|none`)).toEqual([
      `tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "${'n'.repeat(80)}…" (120 more characters)`,
    ]);
  });

  it('never throws on arbitrary input', () => {
    const junk = ['|||||', '=|=|=|=|=', '\u0000|\u0000|\u0000|\u0000', 'a|fake|1e3|none', '🙂|fake|1|none', 'a|fake|99999999999999999999|none', '|'.repeat(1000)];
    for (const line of junk) expect(() => parse(line)).not.toThrow();
  });

  it('changes the fingerprint when a parameter changes and not otherwise', () => {
    const a = parse('a|fake|1|none|ms=1').specs[0]!;
    expect(parse('# moved\na | fake | 1 | none | ms=1').specs[0]!.fingerprint).toBe(a.fingerprint);
    expect(parse('a|fake|1|none|ms=2').specs[0]!.fingerprint).not.toBe(a.fingerprint);
    expect(parse('a|fake|2|none|ms=1').specs[0]!.fingerprint).not.toBe(a.fingerprint);
  });
});

describe('max_total_rate: a line that pushes the agent total over it is refused, naming file, line and total', () => {
  const withTotal = (text: string, maxTotalRate: number, state = createParseState()) =>
    parseTestsText(text, 't.conf', { ...opts, maxTotalRate }, state);

  it('keeps the lines before it, refuses the one over, keeps later ones that still fit', () => {
    const { specs, errors } = withTotal('a|fake|400|none\nb|fake|500|none\nc|fake|600|none\nd|fake|100|none\ne|fake|0|none', 1_000);
    expect(specs.map((s) => s.name)).toEqual(['a', 'b', 'd', 'e']);
    expect(errors.map(formatLineError)).toEqual([
      "t.conf:3: frequency: 600 per minute would bring this agent's total to 1500 per minute, over max_total_rate 1000 (the tests before this line already total 900)",
    ]);
  });

  it('counts across the files of a directory (one state for the whole config)', () => {
    const state = createParseState();
    expect(withTotal('a|fake|700|none', 1_000, state).errors).toEqual([]);
    const second = parseTestsText('b|fake|400|none', 'u.conf', { ...opts, maxTotalRate: 1_000 }, state);
    expect(second.errors.map(formatLineError)).toEqual([
      "u.conf:1: frequency: 400 per minute would bring this agent's total to 1100 per minute, over max_total_rate 1000 (the tests before this line already total 700)",
    ]);
    expect(state.totalRate).toBe(700);
  });

  it('defaults to 600000 per minute: ten tests at the 60000 max_frequency fit, the eleventh does not', () => {
    const text = Array.from({ length: 11 }, (_, i) => `t${i}|fake|60000|none`).join('\n');
    const { specs, errors } = parseTestsText(text, 't.conf', opts);
    expect(specs).toHaveLength(10);
    expect(errors.map((e) => [e.line, e.field])).toEqual([[11, 'frequency']]);
  });

  it('does not count invalid lines or duplicates against the total', () => {
    const { specs, errors } = withTotal('a|fake|600|none\na|fake|600|none\nb|fake|x|none\nc|fake|400|none', 1_000);
    expect(specs.map((s) => s.name)).toEqual(['a', 'c']);
    expect(errors.map((e) => e.line)).toEqual([2, 3]);
  });
});

describe('parseTestsText: the probe registry is the one passed in', () => {
  it('names the known types of the registry actually used, and finds no type outside it', () => {
    const onlyFake = { probeTypes: createProbeRegistry([fake]) };
    expect(parseTestsText('a|http|1|none|url=http://h/', 't.conf', onlyFake).errors.map(formatLineError)).toEqual([
      't.conf:1: type: unknown test type "http"; known types: fake',
    ]);
    expect(parseTestsText('a|fake|1|none', 't.conf', onlyFake).specs.map((s) => s.probeType)).toEqual([fake]);
  });

  it('refuses a malformed or repeated type name (a bug)', () => {
    expect(() => createProbeRegistry([fake, fake])).toThrow('Probe type "fake" is already registered');
    expect(() => createProbeRegistry([{ ...fake, name: 'Bad Name' }])).toThrow('Expected probe type name to match');
  });
});
