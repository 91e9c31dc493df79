import { mkdtemp, mkdir, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatLineError, loadTests, parseTestsText } from '../../src/config/tests-file.js';
import { fakeProbeType } from '../support/fake-probe.js';

const fake = fakeProbeType();
const opts = { lookupProbeType: (n: string) => (n === 'fake' ? fake : undefined) };
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
    ['a|nope|1|none', ['tests.conf:1: type: unknown test type "nope"; known types: http']],
    ['a|fake|1|udp', [
      'tests.conf:1: destination: unknown destination "udp"; expected statsd, graphite, console, none, statsd://host:port, statsd+tcp://host:port or graphite://host:port',
    ]],
    ['a|fake|1|statsd://host', ['tests.conf:1: destination: "statsd://host": expected host:port, got "host"']],
    ['a|fake|1|graphite://h:70000', ['tests.conf:1: destination: "graphite://h:70000": port must be 1-65535, got 70000']],
    ['a|fake|1|none,console', ['tests.conf:1: destination: "none" cannot be combined with other destinations']],
    ['a|fake|1|', ['tests.conf:1: destination: is empty; expected statsd, graphite, console, none or a statsd:// or graphite:// URL']],
    ['a|fake|1|none|bogus=1', ['tests.conf:1: bogus: unknown key; fake accepts ms, fail']],
    ['a|fake|1|none|novalue', ['tests.conf:1: novalue: expected key=value, got "novalue"']],
    ['a|fake|1|none|concurrency=0', ['tests.conf:1: concurrency: must be at least 1']],
    ['a|fake|1|none|concurrency=x', ['tests.conf:1: concurrency: expected a whole number >= 1, got "x"']],
    ['a|fake|1|none|concurrency=1|concurrency=2', ['tests.conf:1: concurrency: given more than once']],
    // Several problems on one line are all reported.
    ['a b|nope|x|none', [
      'tests.conf:1: name: expected 1-64 characters from A-Z a-z 0-9 _ -, got "a b"',
      'tests.conf:1: frequency: expected a whole number of executions per minute, got "x"',
      'tests.conf:1: type: unknown test type "nope"; known types: http',
    ]],
  ])('%s', (line, expected) => {
    expect(errs(line)).toEqual(expected);
    expect(parse(line).specs).toEqual([]);
  });

  it('honours a lower max_frequency', () => {
    expect(errs('a|fake|100|none', 99)).toEqual(['tests.conf:1: frequency: must be at most 99 per minute (max_frequency), got 100']);
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

describe('loadTests', () => {
  it('reads a directory of *.conf files in name order with names unique across files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    await writeFile(join(dir, 'b.conf'), 'shared|fake|2|none\nb1|fake|1|none\n');
    await writeFile(join(dir, 'a.conf'), 'shared|fake|1|none\n');
    await writeFile(join(dir, 'ignored.txt'), 'x|fake|1|none\n');
    await writeFile(join(dir, '.hidden.conf'), 'y|fake|1|none\n');
    await mkdir(join(dir, 'sub.conf'));
    const loaded = await loadTests(dir, opts);
    expect(loaded.status).toBe('ok');
    expect(loaded.specs.map((s) => `${s.name}@${s.file.slice(dir.length + 1)}:${s.line}`)).toEqual(['shared@a.conf:1', 'b1@b.conf:2']);
    expect(loaded.errors.map(formatLineError)).toEqual([`${dir}/b.conf:1: name: "shared" is already used at ${dir}/a.conf:1`]);
  });

  it('says missing for a path that does not exist', async () => {
    expect((await loadTests('/nonexistent/canihaz/tests.conf', opts)).status).toBe('missing');
  });

  it('says unreadable, naming why, when a parent of the path is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    await writeFile(join(dir, 'file'), '');
    const path = join(dir, 'file', 'tests.conf');
    expect(await loadTests(path, opts)).toMatchObject({ status: 'unreadable', message: `${path}: a parent is not a directory` });
  });

  it.skipIf(process.getuid?.() === 0)('says unreadable for a file it may not read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    const file = join(dir, 't.conf');
    await writeFile(file, 'a|fake|1|none');
    await chmod(file, 0o000);
    const loaded = await loadTests(file, opts);
    expect(loaded).toMatchObject({ status: 'unreadable', message: `${file}: permission denied` });
  });
});
