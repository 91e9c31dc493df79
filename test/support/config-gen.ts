/**
 * fast-check arbitraries for config text, for the property tests of the parsers.
 *
 * - `validTestLineArb` — a valid `http` tests-file line, printed in one of many equivalent ways
 *   (padding, case, field order, escapes), with the TestSpec fields it must parse to.
 * - `validTestFileArb` — several such lines with unique names, blank and comment lines between them.
 * - `badTestLineArb(name)` — a line that must be rejected, with the field the rejection must name.
 * - `garbageLineArb` — anything at all on one line (no line break inside).
 * - `skippedLineArb` — a blank or comment line.
 * - `validSettingLineArb(key)` / `badSettingLineArb` — the same for the settings file.
 * - `secretLines(secret)` — lines that put a secret in a URL's userinfo or query, or in a header value.
 *
 * Nothing here imports the parsers: the expected values are written out from the README's rules,
 * so a test comparing them is an independent check, not the code compared with itself.
 */
import fc from 'fast-check';

/** A destination as the tests file's README describes it. */
export type ExpectedDestination =
  | { kind: 'statsd'; protocol: 'udp' | 'tcp'; host: string; port: number }
  | { kind: 'graphite'; host: string; port: number }
  | { kind: 'console' }
  | { kind: 'none' };

/** The http options a valid line must parse to (the fields README's `http` key table names). */
export interface ExpectedHttpOptions {
  url: string;
  method: string;
  timeoutMs: number;
  expect: { min: number; max: number }[];
  headers: [string, string][];
  body: string | undefined;
}

/** The TestSpec fields a valid generated line must parse to (without file and line). */
export interface ExpectedSpec {
  name: string;
  type: 'http';
  frequency: number;
  destinations: ExpectedDestination[];
  concurrency: number;
  timeoutMs: number;
  options: ExpectedHttpOptions;
}

/** A generated line and what parsing it must give. */
export interface GeneratedTestLine {
  text: string;
  expected: ExpectedSpec;
}

/** A printed piece of a line and the value it stands for. */
interface Piece<T> {
  text: string;
  value: T;
}

/** Where the bare word `statsd` sends when no setting changes it (README, "Destinations"). */
export const DEFAULT_STATSD = { host: '127.0.0.1', port: 8125 };
/** Where the bare word `graphite` sends when no setting changes it. */
export const DEFAULT_GRAPHITE = { host: '127.0.0.1', port: 2003 };

/** Writes a literal `|` the one way the format allows, `%7C`. */
function escapePipes(value: string): string {
  return value.replaceAll('|', '%7C');
}

/** Spaces and tabs the parser must ignore around a field. */
const pad = fc.constantFrom('', '', '', ' ', '  ', '\t', ' \t ');

/** A test name: `[A-Za-z0-9_-]{1,64}`, not the reserved `agent`. */
export const testNameArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((n) => n !== 'agent');

const frequencyArb: fc.Arbitrary<Piece<number>> = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60_000 })), fc.constantFrom('', '', '0', '00'))
  .map(([f, zeros]) => ({ text: `${zeros}${f}`, value: f }));

const portArb = fc.integer({ min: 1, max: 65_535 });
const hostArb: fc.Arbitrary<Piece<string>> = fc.oneof(
  fc.ipV4().map((h) => ({ text: h, value: h })),
  // Host names are compared in lower case and IPv6 addresses in their canonical form (WHATWG URL's).
  fc.domain().map((h) => ({ text: h, value: h.toLowerCase() })),
  fc.constantFrom('localhost', 'Statsd.Internal', 'web-1').map((h) => ({ text: h, value: h.toLowerCase() })),
  fc.ipV6().map((h) => ({ text: `[${h}]`, value: new URL(`http://[${h}]/`).hostname.slice(1, -1) })),
);

const destinationArb: fc.Arbitrary<Piece<ExpectedDestination>> = fc.oneof(
  fc.mixedCase(fc.constant('statsd')).map((t) => ({ text: t, value: { kind: 'statsd' as const, protocol: 'udp' as const, ...DEFAULT_STATSD } })),
  fc.mixedCase(fc.constant('graphite')).map((t) => ({ text: t, value: { kind: 'graphite' as const, ...DEFAULT_GRAPHITE } })),
  fc.mixedCase(fc.constant('console')).map((t) => ({ text: t, value: { kind: 'console' as const } })),
  fc
    .tuple(fc.constantFrom('statsd', 'statsd+udp', 'statsd+tcp', 'graphite'), hostArb, portArb, fc.constantFrom('', '/'))
    .chain(([scheme, host, port, slash]) =>
      fc.mixedCase(fc.constant(scheme)).map((printedScheme) => ({
        text: `${printedScheme}://${host.text}:${port}${slash}`,
        value:
          scheme === 'graphite'
            ? { kind: 'graphite' as const, host: host.value, port }
            : { kind: 'statsd' as const, protocol: scheme === 'statsd+tcp' ? ('tcp' as const) : ('udp' as const), host: host.value, port },
      })),
    ),
);

function destinationKey(d: ExpectedDestination): string {
  return d.kind === 'statsd' ? `${d.kind}/${d.protocol}/${d.host}/${d.port}` : d.kind === 'graphite' ? `${d.kind}/${d.host}/${d.port}` : d.kind;
}

/** A destination list: `none` alone, or 1-4 others (repeats collapse into one, first kept). */
const destinationsArb: fc.Arbitrary<Piece<ExpectedDestination[]>> = fc.oneof(
  { weight: 1, arbitrary: fc.mixedCase(fc.constant('none')).map((t) => ({ text: t, value: [{ kind: 'none' as const }] })) },
  {
    weight: 6,
    arbitrary: fc.tuple(fc.array(destinationArb, { minLength: 1, maxLength: 4 }), pad).map(([list, sp]) => {
      const seen = new Set<string>();
      const value: ExpectedDestination[] = [];
      for (const d of list) {
        if (seen.has(destinationKey(d.value))) continue;
        seen.add(destinationKey(d.value));
        value.push(d.value);
      }
      return { text: list.map((d) => d.text).join(`${sp},${sp}`), value };
    }),
  },
);

/** An absolute URL already in WHATWG normal form (so `href` is what was written, minus the fragment). */
const urlArb: fc.Arbitrary<Piece<string>> = fc
  .record({
    scheme: fc.constantFrom('http', 'https'),
    upper: fc.boolean(),
    host: fc.oneof(fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'app.internal'), fc.domain().filter((d) => !d.includes('xn--'))),
    port: fc.option(portArb, { nil: undefined }),
    path: fc.array(fc.stringMatching(/^[a-z0-9_~-][a-z0-9._~-]{0,10}$/), { maxLength: 4 }),
    query: fc.option(fc.stringMatching(/^[A-Za-z0-9_.~-]{1,8}=[A-Za-z0-9_.~|=&-]{0,16}$/), { nil: undefined }),
    fragment: fc.option(fc.stringMatching(/^[a-z0-9]{0,8}$/), { nil: undefined }),
  })
  .map(({ scheme, upper, host, port, path, query, fragment }) => {
    const defaultPort = scheme === 'http' ? 80 : 443;
    const portText = port === undefined || port === defaultPort ? '' : `:${port}`;
    const written = `${upper ? scheme.toUpperCase() : scheme}://${host}${portText}${path.length ? '/' + path.join('/') : ''}${query ? '?' + query : ''}`;
    const href = `${scheme}://${host}${portText}/${path.join('/')}${query ? '?' + query : ''}`;
    return { text: escapePipes(written + (fragment === undefined ? '' : `#${fragment}`)), value: href };
  });

/** RFC 9110 token characters, less `%` (a `%7C` inside would be read as an escaped `|`). */
const tokenArb = fc.stringMatching(/^[!#$&'*+.^_`|~0-9A-Za-z-]{1,16}$/);

const methodArb: fc.Arbitrary<Piece<string>> = fc
  .oneof(fc.mixedCase(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH')), tokenArb)
  .filter((m) => m.toUpperCase() !== 'CONNECT')
  .map((m) => ({ text: escapePipes(m), value: m.toUpperCase() }));

/** Whole milliseconds up to 5 minutes, written in any unit that states them exactly. */
const timeoutArb: fc.Arbitrary<Piece<number>> = fc
  .oneof(fc.integer({ min: 1, max: 300_000 }), fc.integer({ min: 1, max: 300 }).map((s) => s * 1000), fc.integer({ min: 1, max: 5 }).map((m) => m * 60_000))
  .chain((ms) => {
    // `${ms / 1000}s` is exact decimal text (1005 → "1.005s"), even where ms / 1000 is not exact in binary.
    const forms = [`${ms}ms`, `${ms / 1000}s`, `${(ms / 1000).toFixed(3)}s`];
    if (ms < 1000) forms.push(`${ms / 1000}s`.slice(1)); // ".25s"
    if (ms % 6_000 === 0) forms.push(`${ms / 60_000}m`);
    if (ms % 36_000 === 0) forms.push(`${ms / 3_600_000}h`);
    return fc.constantFrom(...forms).map((text) => ({ text, value: ms }));
  });

const statusRangeArb: fc.Arbitrary<Piece<{ min: number; max: number }>> = fc.oneof(
  fc.integer({ min: 100, max: 599 }).map((c) => ({ text: String(c), value: { min: c, max: c } })),
  fc.tuple(fc.integer({ min: 1, max: 5 }), fc.mixedCase(fc.constant('xx'))).map(([c, xx]) => ({ text: `${c}${xx}`, value: { min: c * 100, max: c * 100 + 99 } })),
  fc
    .tuple(fc.integer({ min: 100, max: 599 }), fc.integer({ min: 100, max: 599 }))
    .map(([a, b]) => ({ text: `${Math.min(a, b)}-${Math.max(a, b)}`, value: { min: Math.min(a, b), max: Math.max(a, b) } })),
);

const expectArb: fc.Arbitrary<Piece<{ min: number; max: number }[]>> = fc
  .tuple(fc.array(statusRangeArb, { minLength: 1, maxLength: 4 }), pad)
  .map(([list, sp]) => ({ text: list.map((r) => r.text).join(`${sp},${sp}`), value: list.map((r) => r.value) }));

/** Header names the http probe refuses or treats specially; generated lines leave them out. */
const SPECIAL_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'connection', 'host']);

/** Printable Latin-1 with a visible ASCII character at each end (so trimming changes nothing). */
const headerValueArb = fc.oneof(
  fc.constant(''),
  fc
    .string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)).map((c) => String.fromCharCode(c)), maxLength: 30 })
    .map((s) => `v${s}v`),
).filter((v) => !/%7c/i.test(v));

const headerArb: fc.Arbitrary<Piece<[string, string]>> = fc
  .tuple(tokenArb.filter((n) => !SPECIAL_HEADERS.has(n.toLowerCase())), headerValueArb, fc.constantFrom('', ' ', '  '))
  .map(([name, value, sp]) => ({ text: escapePipes(`${name}:${sp}${value}`), value: [name, value] }));

/** Any text without line breaks, starting and ending with a non-space character. */
const bodyArb: fc.Arbitrary<Piece<string>> = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }))
  .filter((b) => b === b.trim() && !/[\r\n\u2028\u2029]/.test(b) && !/%7c/i.test(b))
  .map((b) => ({ text: escapePipes(b), value: b }));

/** One `key=value` extra field of an http line (`key` empty for an empty field, `||`). */
interface Extra {
  key: string;
  text: string;
}

const keyValue = (key: string, valueText: string) =>
  fc.tuple(pad, pad).map(([a, b]): Extra => ({ key, text: `${key}${a}=${b}${valueText}` }));

/** A valid http line, printed in one of many equivalent ways, with the spec it must parse to. */
export function validTestLineArb(nameArb: fc.Arbitrary<string> = testNameArb): fc.Arbitrary<GeneratedTestLine> {
  return fc
    .record({
      name: nameArb,
      frequency: frequencyArb,
      destinations: destinationsArb,
      url: urlArb,
      method: fc.option(methodArb, { nil: undefined }),
      timeout: fc.option(timeoutArb, { nil: undefined }),
      expect: fc.option(expectArb, { nil: undefined }),
      headers: fc.array(headerArb, { maxLength: 3 }),
      body: fc.option(bodyArb, { nil: undefined }),
      concurrency: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
      empties: fc.integer({ min: 0, max: 2 }),
      pads: fc.array(pad, { minLength: 4, maxLength: 4 }),
    })
    .chain((g) => {
      const extras: fc.Arbitrary<Extra>[] = [keyValue('url', g.url.text)];
      if (g.method) extras.push(keyValue('method', g.method.text));
      if (g.timeout) extras.push(keyValue('timeout', g.timeout.text));
      if (g.expect) extras.push(keyValue('expect', g.expect.text));
      for (const h of g.headers) extras.push(keyValue('header', h.text));
      if (g.body) extras.push(keyValue('body', g.body.text));
      if (g.concurrency !== undefined) extras.push(keyValue('concurrency', String(g.concurrency)));
      for (let i = 0; i < g.empties; i++) extras.push(fc.constant({ key: '', text: '' }));
      return fc.tuple(...extras).chain((list) =>
        fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }).map((shuffled) => {
          // Headers are sent in the order given: keep their relative order while the rest move.
          const headers = list.filter((e) => e.key === 'header');
          let next = 0;
          const ordered = shuffled.map((e) => (e.key === 'header' ? headers[next++]! : e));
          const [p0, p1, p2, p3] = g.pads as [string, string, string, string];
          const text = [`${p0}${g.name}`, 'http', g.frequency.text, g.destinations.text, ...ordered.map((e) => e.text)].join(`${p1}|${p2}`) + p3;
          const timeoutMs = g.timeout?.value ?? 10_000;
          const expected: ExpectedSpec = {
            name: g.name,
            type: 'http',
            frequency: g.frequency.value,
            destinations: g.destinations.value,
            concurrency: g.concurrency ?? 100,
            timeoutMs,
            options: {
              url: g.url.value,
              method: g.method?.value ?? 'GET',
              timeoutMs,
              expect: g.expect?.value ?? [{ min: 200, max: 399 }],
              headers: g.headers.map((h) => h.value),
              body: g.body?.value,
            },
          };
          return { text, expected };
        }),
      );
    });
}

/** One line of a generated file: a test, or a line the parser must skip (blank, comment). */
export type FileLine = { kind: 'test'; line: GeneratedTestLine } | { kind: 'skip'; text: string };

/** A blank or comment line. */
export const skippedLineArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\t', '  \t '),
  fc.tuple(pad, fc.string({ maxLength: 40 })).map(([p, s]) => `${p}#${s.replace(/[\r\n]/g, ' ')}`),
);

/** Several valid lines with unique names, blank and comment lines between them. */
export function validTestFileArb(maxTests = 12): fc.Arbitrary<FileLine[]> {
  return fc.uniqueArray(testNameArb, { minLength: 1, maxLength: maxTests }).chain((names) =>
    fc
      .tuple(
        fc.tuple(...names.map((n) => validTestLineArb(fc.constant(n)))),
        fc.array(fc.tuple(fc.nat(names.length), skippedLineArb), { maxLength: 4 }),
      )
      .map(([tests, skips]) => {
        const out: FileLine[] = tests.map((line) => ({ kind: 'test', line }));
        for (const [at, text] of skips.sort((a, b) => b[0] - a[0])) out.splice(at, 0, { kind: 'skip', text });
        return out;
      }),
  );
}

/** A line that must be rejected, and the field its first problem must name. */
export interface BadLine {
  text: string;
  field: string;
  /** What was broken, for failure messages. */
  how: string;
}

/**
 * A line that must be rejected: a valid line (named `name`) with one thing broken. `usedName` is a
 * name already taken earlier in the file, for the duplicate case.
 */
export function badTestLineArb(name: string, usedName: string | undefined): fc.Arbitrary<BadLine> {
  const good = validTestLineArb(fc.constant(name));
  const fields = (text: string) => text.split('|');
  const withField = (text: string, index: number, value: string) => {
    const f = fields(text);
    f[index] = value;
    return f.join('|');
  };
  const mutations: fc.Arbitrary<BadLine>[] = [
    fc.tuple(good, fc.constantFrom('abc', '-5', '1.5', '60001', '1e3', '', ' 6 0')).map(([g, v]) => ({ text: withField(g.text, 2, v), field: 'frequency', how: `frequency ${JSON.stringify(v)}` })),
    fc.tuple(good, fc.constantFrom('nowhere', 'statsd://', 'statsd://h:0', 'none,console', 'statsd,,console', '')).map(([g, v]) => ({ text: withField(g.text, 3, v), field: 'destination', how: `destination ${JSON.stringify(v)}` })),
    fc.tuple(good, fc.constantFrom('ftp', 'HTTP', 'https', '', 'http2')).map(([g, v]) => ({ text: withField(g.text, 1, v), field: 'type', how: `type ${JSON.stringify(v)}` })),
    fc.tuple(good, fc.constantFrom('a.b', 'a b', 'é', 'x'.repeat(65), 'a\0b', 'agent')).map(([g, v]) => ({ text: withField(g.text, 0, v), field: 'name', how: `name ${JSON.stringify(v)}` })),
    good.map((g) => ({ text: `${g.text}|bogus=1`, field: 'bogus', how: 'unknown key' })),
    good.map((g) => ({ text: fields(g.text).map((f) => (/^\s*url\s*=/.test(f) ? 'url=ftp://x/' : f)).join('|'), field: 'url', how: 'ftp url' })),
    good.map((g) => ({ text: `${g.text}|timeout=5`, field: 'timeout', how: 'timeout without unit (or given twice)' })),
    good.map((g) => ({ text: fields(g.text).slice(0, 3).join('|'), field: 'line', how: 'three fields' })),
    good.map((g) => ({ text: `${g.text}|concurrency=0`, field: 'concurrency', how: 'concurrency 0 (or given twice)' })),
    good.map((g) => ({ text: `${g.text}|header=Content-Length: 5`, field: 'header', how: 'refused header' })),
  ];
  if (usedName !== undefined) {
    mutations.push(validTestLineArb(fc.constant(usedName)).map((g) => ({ text: g.text, field: 'name', how: `duplicate of ${usedName}` })));
  }
  return fc.oneof(...mutations);
}

/** Anything on one line: random code points, ASCII, config-shaped noise, and mangled valid lines. */
export const garbageLineArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 120 }),
    fc.string({ unit: 'binary-ascii', maxLength: 120 }),
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc
      .array(
        fc.oneof(
          fc.constantFrom('http', 'statsd', 'none', 'console', 'url=', 'header=', '=', '%7C', '%7c', 'agent', '0', '60000', '99999999999999999999', '\0', '\uFEFF', '\u202e', '\u2028', '\u009b', '\u007f', '\u001b[31m', '#', ' ', 'http://'),
          fc.string({ maxLength: 12 }),
          fc.string({ unit: 'binary', maxLength: 6 }),
        ),
        { maxLength: 12 },
      )
      .map((parts) => parts.join('|')),
    fc
      .tuple(validTestLineArb(), fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 8 }))
      .map(([g, at, len, insert]) => {
        const i = at % (g.text.length + 1);
        return g.text.slice(0, i) + insert + g.text.slice(i + (len % 6));
      }),
  )
  .map((s) => s.replace(/[\r\n]/g, ' '));

/** The settings keys this generator knows how to write valid values for, and their value arbitraries. */
export const SETTING_VALUE_ARBS: Record<string, fc.Arbitrary<string>> = {
  config: fc.stringMatching(/^\/[A-Za-z0-9._/-]{0,40}$/),
  stop_file: fc.stringMatching(/^\/[A-Za-z0-9._/-]{0,40}$/),
  lock_dir: fc.stringMatching(/^\/[A-Za-z0-9._/-]{0,40}$/),
  state_dir: fc.stringMatching(/^\/[A-Za-z0-9._/-]{0,40}$/),
  types_dir: fc.stringMatching(/^\/[A-Za-z0-9._/-]{0,40}$/),
  blocked_limit: fc.integer({ min: 1, max: 600 }).map(String),
  journal_days: fc.integer({ min: 1, max: 366 }).map(String),
  statsd: fc.tuple(hostArb, portArb).map(([h, p]) => `${h.text}:${p}`),
  graphite: fc.tuple(hostArb, portArb).map(([h, p]) => `${h.text}:${p}`),
  prefix: fc.stringMatching(/^(?:[A-Za-z0-9_-]|\{host\}){1,8}(?:\.(?:[A-Za-z0-9_-]|\{host\}){1,8}){0,3}$/),
  statsd_prefix: fc.stringMatching(/^(?:[A-Za-z0-9_-]|\{host\}){1,8}(?:\.(?:[A-Za-z0-9_-]|\{host\}){1,8}){0,3}$/),
  statsd_tags: fc.constantFrom('none', 'dogstatsd', 'telegraf'),
  graphite_prefix: fc.stringMatching(/^(?:[A-Za-z0-9_-]|\{host\}){1,8}(?:\.(?:[A-Za-z0-9_-]|\{host\}){1,8}){0,3}$/),
  max_frequency: fc.integer({ min: 1, max: 6_000_000 }).map(String),
  max_inflight: fc.integer({ min: 1, max: 1_000_000 }).map(String),
  max_total_rate: fc.integer({ min: 1, max: 600_000_000 }).map(String),
  log_format: fc.constantFrom('logfmt', 'json'),
  log_level: fc.constantFrom('debug', 'info', 'notice', 'warn', 'error'),
  strict_modes: fc.constantFrom('on', 'off'),
  phase: fc.constantFrom('on', 'off'),
};

/** A valid `key = value` line for `key`, with random spacing, and the value it must store. */
export function validSettingLineArb(key: string): fc.Arbitrary<{ text: string; key: string; value: string }> {
  const valueArb = SETTING_VALUE_ARBS[key];
  if (!valueArb) throw new TypeError(`Expected a settings key the generator knows, got "${key}"`);
  return fc.tuple(valueArb, pad, pad, pad, pad).map(([value, a, b, c, d]) => ({ text: `${a}${key}${b}=${c}${value}${d}`, key, value }));
}

/** A settings line that must be rejected (`knownKeys`: every key the parser accepts), and the field its error must name. */
export function badSettingLineArb(knownKeys: readonly string[]): fc.Arbitrary<BadLine> {
  return fc.oneof(
    fc.constantFrom(
      { text: 'nonsense = 1', field: 'nonsense', how: 'unknown key' },
      { text: 'max_frequency = lots', field: 'max_frequency', how: 'not a number' },
      { text: 'max_frequency = 0', field: 'max_frequency', how: 'zero' },
      { text: 'max_inflight = -1', field: 'max_inflight', how: 'negative' },
      { text: 'statsd = nohost', field: 'statsd', how: 'no port' },
      { text: 'graphite = h:70000', field: 'graphite', how: 'port out of range' },
      { text: 'prefix = a..b', field: 'prefix', how: 'empty segment' },
      { text: 'log_level = loud', field: 'log_level', how: 'unknown level' },
      { text: 'log_format = xml', field: 'log_format', how: 'unknown format' },
      { text: 'statsd_tags = influx', field: 'statsd_tags', how: 'unknown tag format' },
      { text: 'config =', field: 'config', how: 'empty path' },
    ),
    fc.stringMatching(/^[a-z_]{1,12}$/).filter((k) => !knownKeys.includes(k)).map((k) => ({ text: `${k} = 1`, field: k, how: 'unknown key' })),
    fc.stringMatching(/^[A-Za-z0-9 _.-]{1,20}$/).filter((t) => t.trim() !== '').map((t) => ({ text: t, field: 'line', how: 'no =' })),
  );
}

/** A secret: what must never appear in an error message. */
export const secretArb = fc.stringMatching(/^[A-Za-z0-9]{20}$/).map((s) => `s3cr3t${s}`);

/** Tests-file lines that carry `secret` in a URL's userinfo or query or in a header value; all invalid. */
export function secretLines(secret: string): { text: string; where: string }[] {
  const s = secret;
  return [
    { text: `a|http|60|none|url=http://user:${s}@bad host/`, where: 'userinfo of a malformed URL' },
    { text: `a|http|60|none|url=http://user:${s}@h:99999/`, where: 'userinfo of a URL with a bad port' },
    { text: `a|http|60|none|url=ftp://user:${s}@h/`, where: 'userinfo of a non-http URL' },
    { text: `a|http|60|none|url=http://user:${s}@h/`, where: 'userinfo of a valid URL' },
    { text: `a|http|60|none|url=http://bad host/?token=${s}`, where: 'query of a malformed URL' },
    { text: `a|http|60|none|url=htp://h/?access_token=${s}&x=1`, where: 'query of a URL with a misspelt scheme' },
    { text: `a|http|60|none|url=/relative?token=${s}`, where: 'query of a relative URL' },
    { text: `a|http|abc|none|url=http://h/?token=${s}`, where: 'query of a URL on a line with a bad frequency' },
    { text: `a|http|60|none|url=http://h/|header=Authorization: Bearer ${s}\u0001`, where: 'header value with a control character' },
    { text: `a|http|60|none|url=http://h/|header=Authorization: Bearer ${s}\u007f`, where: 'header value with DEL' },
    { text: `a|http|60|none|url=http://h/|header=Authorization: Bearer ${s}\u20ac`, where: 'header value outside Latin-1' },
    { text: `a|http|60|none|url=http://h/|header=Connection: ${s} x`, where: 'Connection header value' },
    { text: `a|http|60|none|url=http://h/|header=Authorization Bearer ${s}`, where: 'header without a colon' },
    { text: `a|http|60|none|url=http://h/|header=Bad Name: ${s}`, where: 'header value after a bad name' },
    { text: `a|http|60|none|url=http://h/|header=Authorization: Bearer ${s}|header=Authorization: Bearer ${s}|bogus=1`, where: 'header value on a line with an unknown key' },
    { text: `a|http|60|none|url http://user:${s}@h/`, where: 'URL with userinfo in a field missing its =' },
    { text: `a|http|60|none|url=http://h/|Authorization: Bearer ${s}`, where: 'header value in a field missing its =' },
    { text: `a|http|60|none|=http://h/?token=${s}`, where: 'query in a field with no key' },
    { text: `a|http|60|statsd://user:${s}@h:8125|url=http://h/`, where: 'destination with userinfo' },
    { text: `a|http|60|graphite://h:2003/?token=${s}|url=http://h/`, where: 'destination with a query' },
    { text: `http://user:${s}@h/`, where: 'a URL alone on a line' },
    { text: `a|http|url=http://h/?token=${s}`, where: 'query on a line with too few fields' },
  ];
}
