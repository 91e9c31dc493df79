/**
 * Property-based tests of the two config parsers (issue 6 §4, "Bad input"): the tests file
 * (`parseTestsText`) and the settings file (`parseSettingsText`), fed random lines by fast-check.
 *
 * Each property runs CANIHAZ_FUZZ_RUNS times (default 250, which is over 10,000 lines in all; the
 * last test checks the count); `CANIHAZ_FUZZ_RUNS=20000 npx vitest run test/unit/parsers.property.test.ts`
 * is the long run. A failure prints fast-check's shrunk counterexample and its seed.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSettingsText, SETTING_KEYS } from '../../src/config/settings.js';
import { formatLineError, parseTestsText, type LineError, type TestSpec } from '../../src/config/tests-file.js';
import { builtinProbeRegistry } from '../../src/probes/registry.js';

const PROBE_TYPES = builtinProbeRegistry();
// The built-ins are imported when a line names them; parseTestsText is synchronous, so load them all first.
await PROBE_TYPES.load?.(PROBE_TYPES.names());
import {
  badSettingLineArb,
  badTestLineArb,
  garbageLineArb,
  secretArb,
  secretLines,
  SETTING_VALUE_ARBS,
  skippedLineArb,
  testNameArb,
  validSettingLineArb,
  validTestFileArb,
  validTestLineArb,
  type ExpectedSpec,
  type FileLine,
} from '../support/config-gen.js';

const DEFAULT_RUNS = 250;
const RUNS = Number(process.env.CANIHAZ_FUZZ_RUNS) > 0 ? Number(process.env.CANIHAZ_FUZZ_RUNS) : DEFAULT_RUNS;
const FILE = '/etc/canihaz/tests.conf';
/** Longest field + reason one error may have: a value is echoed only in part, however long it is. */
const MAX_MESSAGE_CHARS = 1_000;
const SETTINGS_FILE = '/etc/canihaz/canihaz.conf';

/** Lines fed to a parser by this file, for the "at least 10,000 per run" check at the end. */
let linesFed = 0;
const startedAt = performance.now();
/** Per-test time limit, scaled for long runs (the default run takes about a tenth of it). */
const TIMEOUT = { timeout: Math.max(30_000, RUNS * 50) };

/** No agent-wide cap, for the properties about single lines (max_total_rate has its own property). */
const UNCAPPED = { maxTotalRate: Number.MAX_SAFE_INTEGER };

function parseTests(lines: string[], separator = '\n', options = UNCAPPED) {
  linesFed += lines.length;
  return parseTestsText(lines.join(separator), FILE, { ...options, probeTypes: PROBE_TYPES });
}

function parseSettings(lines: string[]) {
  linesFed += lines.length;
  return parseSettingsText(lines.join('\n'), SETTINGS_FILE);
}

/** The parser's idea of a line it skips: blank, or a comment. */
function isSkipped(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

/** Asserts the shape every LineError must have: this file, a line in range, a field, a reason. */
function expectWellFormed(e: LineError, file: string, lineCount: number): void {
  expect(e.file).toBe(file);
  expect(Number.isInteger(e.line) && e.line >= 1 && e.line <= lineCount, `line ${e.line} of ${lineCount}: ${formatLineError(e)}`).toBe(true);
  // A field is a short name (`frequency`, `url`, `field 5`, a key), never the garbage it is about.
  expect(/^[A-Za-z0-9_. -]{1,40}$/.test(e.field) && e.field.trim() !== '', `field of ${JSON.stringify(e).slice(0, 300)}`).toBe(true);
  expect(typeof e.message === 'string' && e.message.trim() !== '', `message of ${JSON.stringify(e)}`).toBe(true);
}

/**
 * Characters a terminal or log viewer may act on — C0 but tab, DEL, C1, line and paragraph
 * separators, bidi marks and overrides ("Trojan Source"), a stray BOM — must reach a message escaped.
 */
const RAW_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

/** Errors are quoted: no control character, whatever the input held, reaches a message raw. */
function expectNoRawControl(message: string): void {
  const m = RAW_CONTROL.exec(message);
  expect(m, `raw U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} in ${JSON.stringify(message)}`).toBeNull();
}

/** The TestSpec fields a generated line promises, picked out of what the parser returned. */
function fieldsOf(spec: TestSpec, expected: ExpectedSpec) {
  const options = spec.options as Record<string, unknown>;
  return {
    name: spec.name,
    type: spec.type,
    frequency: spec.frequency,
    destinations: spec.destinations,
    concurrency: spec.concurrency,
    timeoutMs: spec.timeoutMs,
    options: Object.fromEntries(Object.keys(expected.options).map((k) => [k, options[k]])),
  };
}

/** Asserts that every generated test line of `lines` (1-based numbering) parsed to what it promises. */
function expectEveryTestParsed(lines: FileLine[], specs: TestSpec[]): void {
  const byLine = new Map(specs.map((s) => [s.line, s]));
  lines.forEach((l, i) => {
    if (l.kind !== 'test') return;
    const spec = byLine.get(i + 1);
    expect(spec, `line ${i + 1} ${JSON.stringify(l.line.text)} did not parse`).toBeDefined();
    expect(fieldsOf(spec!, l.line.expected), `line ${i + 1} ${JSON.stringify(l.line.text)}`).toEqual(l.line.expected);
    expect(spec!.file).toBe(FILE);
  });
}

describe('parseTestsText under random input (fast-check)', () => {
  it('never throws, whatever the text (any code points, any line ends, BOM, NUL)', TIMEOUT, () => {
    const chunk = fc.oneof(garbageLineArb, skippedLineArb, fc.constantFrom('\r', '\r\n', '\n', '\0', '\uFEFF', '|', '%7C'));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 40 }), fc.constantFrom('\n', '\r\n', '\r', ''), (chunks, sep) => {
        const text = chunks.join(sep);
        const lineCount = text.split(/\r\n|\r|\n/).length;
        linesFed += lineCount;
        const { specs, errors } = parseTestsText(text, FILE, { probeTypes: PROBE_TYPES });
        for (const e of errors) expectWellFormed(e, FILE, lineCount);
        for (const e of errors) expectNoRawControl(formatLineError(e));
        for (const s of specs) expect(s.line).toBeLessThanOrEqual(lineCount);
      }),
      { numRuns: RUNS },
    );
  });

  it('gives every line exactly one outcome: a test, or short quoted reasons naming its line and a field', TIMEOUT, () => {
    // A valid line with one field (or a value) replaced by up to 2,000 characters: echoes must be cut.
    const longLine = fc
      .tuple(validTestLineArb(), fc.nat(8), fc.string({ unit: 'binary', minLength: 500, maxLength: 2_000 }))
      .map(([g, at, long]) => {
        const fields = g.text.split('|');
        const i = at % fields.length;
        fields[i] = i >= 4 ? fields[i]!.replace(/=.*$/s, () => `=${long}`) : long;
        return fields.join('|').replace(/[\r\n]/g, ' ');
      });
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 6, arbitrary: garbageLineArb }, { weight: 2, arbitrary: skippedLineArb }, { weight: 1, arbitrary: longLine }), { minLength: 1, maxLength: 40 }), (lines) => {
        const { specs, errors } = parseTests(lines);
        for (const e of errors) expectWellFormed(e, FILE, lines.length);
        for (const e of errors) {
          expectNoRawControl(formatLineError(e));
          expect(e.field.length + e.message.length, `long message: ${formatLineError(e).slice(0, 400)}…`).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
        }
        const specLines = new Set(specs.map((s) => s.line));
        expect(specLines.size, 'two tests from one line').toBe(specs.length);
        const errorLines = new Set(errors.map((e) => e.line));
        lines.forEach((line, i) => {
          const n = i + 1;
          if (isSkipped(line)) {
            expect(specLines.has(n) || errorLines.has(n), `skipped line ${n} ${JSON.stringify(line)} has an outcome`).toBe(false);
          } else {
            expect(specLines.has(n) !== errorLines.has(n), `line ${n} ${JSON.stringify(line)}: test=${specLines.has(n)} errors=${errorLines.has(n)}`).toBe(true);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips one line: a valid line parses to exactly what was written', TIMEOUT, () => {
    // The single-line form shrinks to a minimal counterexample; the file form below finds interactions.
    fc.assert(
      fc.property(validTestLineArb(), (line) => {
        const { specs, errors } = parseTests([line.text]);
        expect(errors.map(formatLineError)).toEqual([]);
        expectEveryTestParsed([{ kind: 'test', line }], specs);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('round-trips a file: every valid line parses to exactly what was written', TIMEOUT, () => {
    fc.assert(
      fc.property(validTestFileArb(), fc.constantFrom('\n', '\r\n'), fc.boolean(), (lines, sep, bom) => {
        const texts = lines.map((l) => (l.kind === 'test' ? l.line.text : l.text));
        if (bom) texts[0] = `\uFEFF${texts[0]}`;
        const { specs, errors } = parseTests(texts, sep);
        expect(errors.map(formatLineError)).toEqual([]);
        expect(specs).toHaveLength(lines.filter((l) => l.kind === 'test').length);
        expectEveryTestParsed(lines, specs);
      }),
      { numRuns: RUNS },
    );
  });

  it('one bad line loses nothing else: valid lines among bad ones and garbage all still parse', TIMEOUT, () => {
    const file = validTestFileArb(10).chain((lines) => {
      const names = lines.flatMap((l) => (l.kind === 'test' ? [l.line.expected.name] : []));
      // Bad lines use names no valid line has ("bad-" is 4 of at most 64 characters), or repeat an earlier one.
      const bad = fc.tuple(testNameArb.map((n) => `bad-${n}`.slice(0, 64)), fc.nat(names.length)).chain(([name, i]) => badTestLineArb(name, names[i]));
      const noise = garbageLineArb.map((g) => g.replaceAll('|', '/'));
      return fc.tuple(fc.constant(lines), fc.array(fc.tuple(fc.nat(lines.length), fc.oneof(bad.map((b) => ({ bad: b })), noise.map((n) => ({ noise: n })))), { minLength: 1, maxLength: 10 }));
    });
    fc.assert(
      fc.property(file, ([lines, inserts]) => {
        type Row = FileLine | { kind: 'bad'; text: string; field: string; how: string } | { kind: 'noise'; text: string };
        const rows: Row[] = [...lines];
        for (const [at, ins] of inserts) {
          // A duplicate must come after the line it duplicates; put bad lines after every valid line they could copy.
          const row: Row = 'bad' in ins ? { kind: 'bad', ...ins.bad } : { kind: 'noise', text: ins.noise };
          if (row.kind === 'bad' && row.how.startsWith('duplicate')) rows.push(row);
          else rows.splice(at, 0, row);
        }
        const texts = rows.map((r) => (r.kind === 'test' ? r.line.text : r.text));
        const { specs, errors } = parseTests(texts);
        for (const e of errors) expectWellFormed(e, FILE, rows.length);
        expectEveryTestParsed(rows.map((r) => (r.kind === 'test' ? r : { kind: 'skip', text: '' })), specs);
        const specLines = new Set(specs.map((s) => s.line));
        rows.forEach((r, i) => {
          if (r.kind !== 'bad') return;
          const mine = errors.filter((e) => e.line === i + 1);
          expect(specLines.has(i + 1), `bad line ${i + 1} (${r.how}) ${JSON.stringify(r.text)} was accepted`).toBe(false);
          expect(mine.map((e) => e.field), `bad line ${i + 1} (${r.how}) ${JSON.stringify(r.text)}: ${mine.map(formatLineError).join(' / ')}`).toContain(r.field);
        });
        expect(specs).toHaveLength(lines.filter((l) => l.kind === 'test').length);
      }),
      { numRuns: RUNS },
    );
  });

  it('max_total_rate: a line that would bring the total over the cap is rejected by line; every other line stands', TIMEOUT, () => {
    const file = validTestFileArb().chain((lines) => {
      const sum = lines.reduce((a, l) => a + (l.kind === 'test' ? l.line.expected.frequency : 0), 0);
      return fc.tuple(fc.constant(lines), fc.integer({ min: 1, max: Math.max(1, sum) }));
    });
    fc.assert(
      fc.property(file, ([lines, cap]) => {
        const { specs, errors } = parseTests(
          lines.map((l) => (l.kind === 'test' ? l.line.text : l.text)),
          '\n',
          { maxTotalRate: cap },
        );
        // Lines are taken in file order; one that would bring the running total over the cap is refused.
        let total = 0;
        const accepted: FileLine[] = [];
        lines.forEach((l, i) => {
          if (l.kind !== 'test') return accepted.push(l);
          if (total + l.line.expected.frequency <= cap) {
            total += l.line.expected.frequency;
            return accepted.push(l);
          }
          accepted.push({ kind: 'skip', text: '' });
          expect(errors.filter((e) => e.line === i + 1).map((e) => [e.field, /max_total_rate/.test(e.message)]), `line ${i + 1} over the cap ${cap}`).toEqual([['frequency', true]]);
        });
        expectEveryTestParsed(accepted, specs);
        expect(specs).toHaveLength(accepted.filter((l) => l.kind === 'test').length);
      }),
      { numRuns: RUNS },
    );
  });

  it('never puts a secret from a URL userinfo, a URL query or a header value into an error', TIMEOUT, () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        const lines = secretLines(secret);
        const { errors } = parseTests(lines.map((l) => l.text));
        for (const e of errors) {
          const where = lines[e.line - 1]?.where;
          expect(formatLineError(e).includes(secret), `secret (${where}) leaked: ${formatLineError(e)}`).toBe(false);
        }
      }),
      { numRuns: Math.max(20, Math.round(RUNS / 5)) },
    );
  });
});

/** The settings keys the parser accepts that the generator can write values for. */
const KNOWN_KEYS = (SETTING_KEYS as readonly string[]).filter((k) => k in SETTING_VALUE_ARBS);

describe('parseSettingsText under random input (fast-check)', () => {
  it('knows how to write a valid value for every settings key (a new key needs a generator in test/support/config-gen.ts)', () => {
    expect(SETTING_KEYS.filter((k) => !(k in SETTING_VALUE_ARBS))).toEqual([]);
  });

  it('never throws, and gives every line either a value or a reason naming its line and a field', TIMEOUT, () => {
    const keyish = fc.constantFrom(...SETTING_KEYS, 'nonsense', '', ' ');
    const line = fc.oneof(
      garbageLineArb,
      skippedLineArb,
      fc.tuple(keyish, fc.constantFrom('=', ' = ', '==', ''), garbageLineArb).map(([k, eq, v]) => `${k}${eq}${v}`),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 30 }), (lines) => {
        const { raw, errors } = parseSettings(lines);
        for (const e of errors) expectWellFormed(e, SETTINGS_FILE, lines.length);
        for (const e of errors) expectNoRawControl(formatLineError(e));
        const errorLines = new Set(errors.map((e) => e.line));
        lines.forEach((text, i) => {
          if (isSkipped(text)) expect(errorLines.has(i + 1), `skipped line ${i + 1}`).toBe(false);
          else if (!errorLines.has(i + 1)) {
            // Accepted: it set the key it names (a later line may set the same key again).
            const key = text.slice(0, text.indexOf('=')).trim();
            expect(SETTING_KEYS as readonly string[], `line ${i + 1} ${JSON.stringify(text)} accepted`).toContain(key);
            expect(raw[key as keyof typeof raw], `line ${i + 1} ${JSON.stringify(text)}`).toBeDefined();
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips: every valid line sets its key to exactly the value written', TIMEOUT, () => {
    const file = fc
      .shuffledSubarray(KNOWN_KEYS, { minLength: 1 })
      .chain((keys) => fc.tuple(fc.tuple(...keys.map((k) => validSettingLineArb(k))), fc.array(fc.tuple(fc.nat(keys.length), skippedLineArb), { maxLength: 4 })));
    fc.assert(
      fc.property(file, ([settingLines, skips]) => {
        const texts = settingLines.map((l) => l.text);
        for (const [at, text] of skips.sort((a, b) => b[0] - a[0])) texts.splice(at, 0, text);
        const { raw, errors } = parseSettings(texts);
        expect(errors.map(formatLineError)).toEqual([]);
        expect(raw).toEqual(Object.fromEntries(settingLines.map((l) => [l.key, l.value])));
      }),
      { numRuns: RUNS },
    );
  });

  it('one bad line loses nothing else: valid settings among bad lines all still apply', TIMEOUT, () => {
    const file = fc
      .shuffledSubarray(KNOWN_KEYS, { minLength: 1 })
      .chain((keys) =>
        fc.tuple(
          fc.tuple(...keys.map((k) => validSettingLineArb(k))),
          fc.array(fc.tuple(fc.nat(keys.length), badSettingLineArb(SETTING_KEYS)), { minLength: 1, maxLength: 8 }),
        ),
      );
    fc.assert(
      fc.property(file, ([good, bad]) => {
        type Row = { good: true; key: string; value: string; text: string } | { good: false; text: string; field: string; how: string };
        const rows: Row[] = good.map((g) => ({ good: true, ...g }));
        for (const [at, b] of bad) rows.splice(at, 0, { good: false, ...b });
        const { raw, errors } = parseSettings(rows.map((r) => r.text));
        for (const e of errors) expectWellFormed(e, SETTINGS_FILE, rows.length);
        expect(raw).toEqual(Object.fromEntries(good.map((l) => [l.key, l.value])));
        rows.forEach((r, i) => {
          const mine = errors.filter((e) => e.line === i + 1);
          if (r.good) expect(mine.map(formatLineError), `good line ${i + 1} ${JSON.stringify(r.text)}`).toEqual([]);
          else expect(mine.map((e) => e.field), `bad line ${i + 1} (${r.how}) ${JSON.stringify(r.text)}`).toEqual([r.field]);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('never puts a secret from a host:port with userinfo or a query into an error', TIMEOUT, () => {
    fc.assert(
      fc.property(secretArb, fc.constantFrom('statsd', 'graphite'), (secret, key) => {
        const lines = [`${key} = user:${secret}@h:8125`, `${key} = h:8125/?token=${secret}`, `${key} = statsd://u:${secret}@h:8125`];
        const { errors } = parseSettings(lines);
        expect(errors).toHaveLength(lines.length);
        for (const e of errors) expect(formatLineError(e).includes(secret), `secret leaked: ${formatLineError(e)}`).toBe(false);
      }),
      { numRuns: Math.max(20, Math.round(RUNS / 10)) },
    );
  });
});

describe('the fuzzing budget', () => {
  it(`feeds the parsers at least 10,000 lines per run (CANIHAZ_FUZZ_RUNS=${RUNS})`, () => {
    const seconds = (performance.now() - startedAt) / 1000;
    console.log(`parsers.property: ${linesFed} lines in ${seconds.toFixed(1)} s (${RUNS} runs per property)`);
    if (RUNS >= DEFAULT_RUNS) expect(linesFed).toBeGreaterThanOrEqual(10_000);
  });
});
