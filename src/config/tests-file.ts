import { z } from 'zod';
import { DEFAULT_DESTINATIONS, parseDestinations, type Destination, type DestinationDefaults } from '../metrics/destination.js';
import { LINE_KEYS } from '../probes/params.js';
import { contentLines, DEFAULT_MAX_FREQUENCY, DEFAULT_MAX_TOTAL_RATE } from './lines.js';
import { parseShape, type LoadShapeSpec } from './shape-params.js';
import type { ProbeType } from '../probes/probe.js';
import type { ProbeRegistry } from '../probes/registry.js';
import { quotePrefix, quoteValue } from '../redact.js';

/** One valid config line: a test to run. */
export interface TestSpec {
  name: string;
  type: string;
  /** Executions per minute (a shaped test's peak); 0 means paused. */
  frequency: number;
  /** The load shape (issue 12): set unless the line is a flat rate with no start, end or Poisson arrivals. */
  shape?: LoadShapeSpec;
  destinations: Destination[];
  /** Most executions of this test in flight at once; a tick beyond it is dropped and counted. */
  concurrency: number;
  /** The probe's own per-execution timeout, ms (bounds how long a run can overrun its window). */
  timeoutMs: number;
  /** Probe-specific options, as validated by the probe type. */
  options: unknown;
  probeType: ProbeType;
  file: string;
  line: number;
  /** Changes whenever anything that affects how the test runs changes (used by live reload). */
  fingerprint: string;
}

/** One problem with one config line, reported as `FILE:LINE: field: message`. */
export interface LineError {
  file: string;
  line: number;
  field: string;
  message: string;
}

/** Formats a LineError the way operators see it. */
export function formatLineError(e: LineError): string {
  return `${e.file}:${e.line}: ${e.field}: ${e.message}`;
}

/** What parsing needs to know beyond the text. */
export interface ParseOptions {
  /** Highest allowed frequency (executions per minute). Default 60000. */
  maxFrequency?: number;
  /** Highest sum of every test's frequency (executions per minute, per agent). Default 600000. */
  maxTotalRate?: number;
  /** Refuse config files and directories others could change (sshd's StrictModes). Default true. */
  strictModes?: boolean;
  /** host:port for the bare words `statsd` and `graphite`. */
  destinationDefaults?: DestinationDefaults;
  /** The probe types a line may name (and the "known types" an unknown one is told about). */
  probeTypes: ProbeRegistry;
}

export { DEFAULT_MAX_FREQUENCY, DEFAULT_MAX_TOTAL_RATE };

/** A field of digits only, as a number; anything else fails with `expected(input)`. */
function digits(expected: (input: string) => string) {
  return z
    .string()
    .regex(/^\d+$/, { error: (iss) => expected(String(iss.input)) })
    .transform(Number);
}

/** What parsing carries from one file of a config directory to the next. */
export interface ParseState {
  /** Where each test name was first used, so duplicates across files are caught. */
  names: Map<string, { file: string; line: number }>;
  /** Executions per minute of the tests accepted so far (checked against max_total_rate). */
  totalRate: number;
}

/** A fresh ParseState for reading one whole config. */
export function createParseState(): ParseState {
  return { names: new Map(), totalRate: 0 };
}

/** The result of parsing: every valid test, and every problem. */
export interface ParsedTests {
  specs: TestSpec[];
  errors: LineError[];
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** What a `key` of a `key=value` field may look like; anything else is not echoed (it may be a secret). */
const KEY_RE = /^[A-Za-z0-9_.-]{1,40}$/;
/** Names whose metric paths belong to the agent itself (`<prefix>.agent.skipped`). */
const RESERVED_NAMES = new Set(['agent']);

const lineSchema = () =>
  z.object({
    name: z
      .string()
      .regex(NAME_RE, { error: (iss) => `expected 1-64 characters from A-Z a-z 0-9 _ -, got ${quoteValue(String(iss.input))}` }),
    concurrency: digits((input) => `expected a whole number >= 1, got ${quoteValue(input)}`)
      .pipe(z.number().int().min(1, { error: 'must be at least 1' }).max(100_000, { error: 'must be at most 100000' }))
      .optional(),
  });

/**
 * The `test_type` word of every line of `text` that has the four fields a test needs, so the
 * scenario modules they name can be imported (ProbeRegistry.load) before the text is parsed.
 */
export function typeWords(text: string): string[] {
  return contentLines(text).flatMap(({ text: line }) => {
    const fields = line.split('|');
    return fields.length >= 4 ? [fields[1]!.trim()] : [];
  });
}

/** Decodes the one escape the format has: `%7C` for a literal `|`. */
function unescapeValue(v: string): string {
  return v.replace(/%7C/gi, '|');
}

/**
 * Parses the text of one tests file. Never throws: every problem becomes a LineError and the line
 * is skipped; `state` carries names and the total rate across the files of a directory. Lines end
 * with LF, CRLF or a lone CR (old Mac files): each counts as one line.
 */
export function parseTestsText(text: string, file: string, options: ParseOptions, state: ParseState = createParseState()): ParsedTests {
  const seen = state.names;
  const maxFrequency = options.maxFrequency ?? DEFAULT_MAX_FREQUENCY;
  const maxTotalRate = options.maxTotalRate ?? DEFAULT_MAX_TOTAL_RATE;
  const defaults = options.destinationDefaults ?? DEFAULT_DESTINATIONS;
  const registry = options.probeTypes;
  const schema = lineSchema();
  const specs: TestSpec[] = [];
  const errors: LineError[] = [];
  contentLines(text).forEach(({ line, text: trimmed }) => {
    const lineErrors: LineError[] = [];
    const fail = (field: string, message: string) => lineErrors.push({ file, line, field, message });

    const fields = trimmed.split('|').map((f) => f.trim());
    if (fields.length < 4) {
      fail('line', `expected at least 4 fields test_name|test_type|test_frequency|metrics_destination, got ${fields.length}`);
      errors.push(...lineErrors);
      return;
    }
    const [name, type, frequency, destination, ...extras] = fields as [string, string, string, string, ...string[]];

    const params = new Map<string, string[]>();
    extras.forEach((extra, i) => {
      if (extra === '') return;
      // Field numbers as an operator counts them: the first key=value field is field 5.
      const where = `field ${i + 5}`;
      const eq = extra.indexOf('=');
      // The field is echoed only in part: it may be a header or token written without its key.
      if (eq < 0) {
        fail(where, `expected key=value, got ${quotePrefix(extra)}`);
        return;
      }
      const key = extra.slice(0, eq).trim();
      if (!KEY_RE.test(key)) {
        fail(where, key === '' ? 'expected key=value, got nothing before "="' : `expected key=value with a key of letters, digits, _ . -, got ${quotePrefix(key)}`);
        return;
      }
      const value = unescapeValue(extra.slice(eq + 1).trim());
      params.set(key, [...(params.get(key) ?? []), value]);
    });

    const concurrencyValues = params.get('concurrency');
    if (concurrencyValues && concurrencyValues.length > 1) fail('concurrency', 'given more than once');
    const checked = schema.safeParse({ name, concurrency: concurrencyValues?.[0] });
    if (!checked.success) {
      for (const issue of checked.error.issues) fail(String(issue.path[0] ?? 'line'), issue.message);
    }
    // The frequency field and the shape keys (start, end, for, step, ramp, then, repeat, arrivals).
    const shaped = parseShape(frequency, params, { maxFrequency });
    if (!shaped.ok) for (const issue of shaped.issues) fail(issue.field, issue.message);

    if (checked.success || !checked.error.issues.some((i) => i.path[0] === 'name')) {
      if (RESERVED_NAMES.has(name)) fail('name', `"${name}" is reserved (its metrics would collide with <prefix>.${name}.*); choose another name`);
      const first = seen.get(name);
      if (first) fail('name', `"${name}" is already used at ${first.file}:${first.line}`);
    }

    const dests = parseDestinations(destination, defaults);
    if (!dests.ok) fail('destination', dests.message);

    const probeType = registry.get(type);
    let probe: ReturnType<ProbeType['parse']> | undefined;
    if (!probeType) {
      const why = registry.whyUnknown?.(type);
      if (why?.reason !== undefined) fail('type', `module ${why.module}: ${why.reason}`);
      else fail('type', `unknown test type ${quoteValue(type)}; known types: ${registry.names().join(', ')}${why ? ` (no module ${why.module})` : ''}`);
    } else {
      const probeParams = new Map([...params].filter(([k]) => !LINE_KEYS.has(k)));
      const parsed = probeType.parse(probeParams);
      if (!parsed.ok) for (const issue of parsed.issues) fail(issue.field, issue.message);
      probe = parsed;
    }

    if (lineErrors.length > 0 || !checked.success || !shaped.ok || !dests.ok || !probeType || !probe?.ok) {
      errors.push(...lineErrors);
      return;
    }
    // A shaped test counts at its peak: the most it ever asks for.
    const rate = shaped.peak;
    const total = state.totalRate + rate;
    if (total > maxTotalRate) {
      errors.push({
        file,
        line,
        field: 'frequency',
        message: `${rate} per minute${shaped.flat ? '' : ' (its peak)'} would bring this agent's total to ${total} per minute, over max_total_rate ${maxTotalRate} (the tests before this line already total ${state.totalRate})`,
      });
      return;
    }
    state.totalRate = total;
    seen.set(name, { file, line });
    specs.push({
      name,
      type,
      frequency: rate,
      ...(!shaped.flat && { shape: shaped.shape }),
      destinations: dests.destinations,
      concurrency: checked.data.concurrency ?? probeType.defaultConcurrency,
      timeoutMs: probe.timeoutMs,
      options: probe.options,
      probeType,
      file,
      line,
      // The shape keys are in `params`; a shaped line's frequency is its text (`60,120` is not `120,60`).
      fingerprint: JSON.stringify([type, shaped.flat ? rate : frequency, dests.destinations, [...params].sort()]),
    });
  });
  return { specs, errors };
}
