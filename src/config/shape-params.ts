/**
 * A test line's load shape (issue 12): its frequency field — `60`, a list of steps `60,120,240` or
 * a ramp `60..600` — and the shape keys `start`, `end`, `for`, `step`, `ramp`, `then`, `repeat` and
 * `arrivals`, parsed into plain data or into every problem, each naming its field. Times are ISO
 * 8601 with a zone: `Z`, or an offset such as `+02:00`, which is converted to UTC (an explicit
 * offset is as unambiguous as `Z`); a time without a zone is an error, because each host would read
 * it in its own zone. Durations are the probes' (`5m`, `90s`, `1h`).
 */
import { formatDuration, parseDuration } from '../probes/params.js';
import { quoteValue } from '../redact.js';

/** The keys of a line that describe its load shape (read by the tests file, never by a probe type). */
export const SHAPE_KEYS: ReadonlySet<string> = new Set(['start', 'end', 'for', 'step', 'ramp', 'then', 'repeat', 'arrivals']);

/** What a shape does after its last step or the end of its ramp. */
export type ShapeThenSpec = 'hold' | 'stop' | 'repeat';

/**
 * A parsed load shape: the same plain data as the Schedule room's `LoadShape` (schedule/shape.ts),
 * written here because Config does not import the Schedule room; a type test keeps the two equal.
 */
export interface LoadShapeSpec {
  /** UTC epoch ms. */
  start?: number;
  /** UTC epoch ms. */
  end?: number;
  rates:
    | { kind: 'constant'; perMinute: number }
    | { kind: 'steps'; perMinute: readonly number[]; stepMs: number; then: ShapeThenSpec; cycles?: number }
    | { kind: 'ramp'; from: number; to: number; rampMs: number; then: ShapeThenSpec; cycles?: number };
  arrivals: 'even' | 'poisson';
}

/** One problem with a line's shape. */
export interface ShapeIssue {
  field: string;
  message: string;
}

/** The shape, its peak rate and whether it is today's flat rate; or every problem. */
export type ParsedShape =
  | {
      ok: true;
      shape: LoadShapeSpec;
      /** The highest rate it asks for, per minute (for `max_total_rate` and the job's `frequency`). */
      peak: number;
      /** A constant rate, even arrivals, no start or end: plan.ts's planner applies unchanged. */
      flat: boolean;
    }
  | { ok: false; issues: ShapeIssue[] };

/** What shape parsing needs beyond the text. */
export interface ShapeOptions {
  /** Highest rate (executions per minute) of any step or ramp end (max_frequency). */
  maxFrequency: number;
}

/** Most steps a list may have. */
export const MAX_STEPS = 1_000;
/** Most cycles `repeat=` may ask for. */
export const MAX_REPEAT = 1_000_000;

const WHOLE = /^\d+$/;
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?$/i;
const EXAMPLE_TIME = '2026-12-01T14:00:00Z';

/** Parses an ISO 8601 time with a zone into UTC epoch ms, or an operator-facing error (without the field name). */
export function parseUtcTime(text: string): number | { error: string } {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return { error: `expected a UTC time such as ${EXAMPLE_TIME}, got ${quoteValue(text)}` };
  const [year, month, day, hour, minute, second = 0] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const zone = m[8];
  if (zone === undefined) return { error: `${quoteValue(text)} has no time zone; add Z for UTC, e.g. ${EXAMPLE_TIME}` };
  if (year < 1970) return { error: `must be in 1970 or later, got ${quoteValue(text)}` };
  const local = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const back = new Date(local);
  if (back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return { error: `is not a valid date and time, got ${quoteValue(text)}` };
  }
  if (zone.toUpperCase() === 'Z') return local;
  const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
  if (oh > 23 || om > 59) return { error: `has an invalid zone offset ${quoteValue(zone)}` };
  return local - (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
}

type Rates = LoadShapeSpec['rates'];
type FrequencyForm = { kind: 'constant' | 'steps' | 'ramp'; values: number[] };

/** Parses the frequency field into its form and its rates, adding a problem for each bad rate. */
function parseFrequency(text: string, max: number, fail: (field: string, message: string) => void): FrequencyForm | undefined {
  const whole = `expected a whole number of executions per minute, got ${quoteValue(text)}`;
  const tooHigh = (what: string, n: number) => `${what}must be at most ${max} per minute (max_frequency), got ${n}`;
  const kind = text.includes('..') ? 'ramp' : text.includes(',') ? 'steps' : 'constant';
  const parts = kind === 'ramp' ? text.split('..') : kind === 'steps' ? text.split(',') : [text];
  if (kind === 'ramp' && (parts.length !== 2 || !parts.every((p) => WHOLE.test(p.trim())))) {
    fail('frequency', `expected a ramp of two whole numbers of executions per minute such as 60..600, got ${quoteValue(text)}`);
    return undefined;
  }
  if (kind === 'steps' && parts.length > MAX_STEPS) {
    fail('frequency', `expected at most ${MAX_STEPS} steps, got ${parts.length}`);
    return undefined;
  }
  const values: number[] = [];
  let ok = true;
  parts.forEach((raw, i) => {
    const p = raw.trim();
    const what = kind === 'steps' ? `step ${i + 1}: ` : kind === 'ramp' ? `ramp ${i === 0 ? 'start' : 'end'}: ` : '';
    if (!WHOLE.test(p)) {
      ok = false;
      fail('frequency', kind === 'steps' ? `${what}expected a whole number of executions per minute in a list such as 60,120,240, got ${quoteValue(p)}` : whole);
    } else if (Number(p) > max) {
      ok = false;
      fail('frequency', tooHigh(what, Number(p)));
    } else values.push(Number(p));
  });
  return ok ? { kind, values } : undefined;
}

/**
 * Parses a line's frequency field and its shape keys (`params` holds every `key=value` of the line;
 * only SHAPE_KEYS are read). Never throws; every problem is returned, each naming its field.
 */
export function parseShape(frequency: string, params: ReadonlyMap<string, readonly string[]>, options: ShapeOptions): ParsedShape {
  const issues: ShapeIssue[] = [];
  const fail = (field: string, message: string) => void issues.push({ field, message });
  const one = (key: string): string | undefined => {
    const values = params.get(key);
    if (values && values.length > 1) fail(key, 'given more than once');
    return values?.[0];
  };
  const raw = Object.fromEntries([...SHAPE_KEYS].map((k) => [k, one(k)])) as Record<string, string | undefined>;
  const form = parseFrequency(frequency.trim(), options.maxFrequency, fail);
  const kind = form?.kind ?? (frequency.includes('..') ? 'ramp' : frequency.includes(',') ? 'steps' : 'constant');

  const time = (key: 'start' | 'end'): number | undefined => {
    if (raw[key] === undefined) return undefined;
    const t = parseUtcTime(raw[key]);
    if (typeof t === 'number') return t;
    fail(key, t.error);
    return undefined;
  };
  const duration = (key: 'for' | 'step' | 'ramp'): number | undefined => {
    if (raw[key] === undefined) return undefined;
    const ms = parseDuration(raw[key]);
    if (typeof ms === 'number') return ms;
    fail(key, ms.error);
    return undefined;
  };
  const start = time('start');
  let end = time('end');
  const forMs = duration('for');
  const stepMs = duration('step');
  const rampMs = duration('ramp');

  if (raw.end !== undefined && raw.for !== undefined) fail('for', 'give end= or for=, not both');
  else if (raw.for !== undefined && raw.start === undefined) fail('for', 'needs start= (for= counts from it); or give end= as a time');
  else if (start !== undefined && forMs !== undefined) end = start + forMs;
  if (start !== undefined && end !== undefined && raw.end !== undefined && end <= start) {
    fail('end', `must be after start (${new Date(start).toISOString()}), got ${new Date(end).toISOString()}`);
  }

  const needs = (key: string, form: string, example: string) => fail(key, `required with ${form}, e.g. ${key}=${example}`);
  const only = (key: string, form: string) => fail(key, `applies only to ${form}, got frequency ${quoteValue(frequency)}`);
  if (kind === 'steps' && raw.step === undefined) needs('step', 'a list of rates (each holds this long)', '5m');
  if (kind !== 'steps' && raw.step !== undefined) only('step', 'a list of rates such as 60,120,240');
  if (kind === 'ramp' && raw.ramp === undefined) needs('ramp', 'a ramp (it rises over this long)', '10m');
  if (kind !== 'ramp' && raw.ramp !== undefined) only('ramp', 'a ramp such as 60..600');
  if (kind !== 'constant' && raw.start === undefined) needs('start', 'steps or a ramp (they run from it)', EXAMPLE_TIME);

  let then: ShapeThenSpec = 'hold';
  if (raw.then !== undefined) {
    if (raw.then === 'hold' || raw.then === 'stop' || raw.then === 'repeat') then = raw.then;
    else fail('then', `expected hold, stop or repeat, got ${quoteValue(raw.then)}`);
    if (kind === 'constant') only('then', 'steps or a ramp');
  }
  let cycles: number | undefined;
  if (raw.repeat !== undefined) {
    if (!WHOLE.test(raw.repeat) || Number(raw.repeat) < 1 || Number(raw.repeat) > MAX_REPEAT) {
      fail('repeat', `expected a whole number of cycles from 1 to ${MAX_REPEAT}, got ${quoteValue(raw.repeat)}`);
    } else cycles = Number(raw.repeat);
    if (raw.then !== 'repeat') fail('repeat', `needs then=repeat, got ${raw.then === undefined ? 'no then=' : `then=${quoteValue(raw.then)}`}`);
  }
  let arrivals: LoadShapeSpec['arrivals'] = 'even';
  if (raw.arrivals !== undefined) {
    if (raw.arrivals === 'even' || raw.arrivals === 'poisson') arrivals = raw.arrivals;
    else fail('arrivals', `expected even or poisson, got ${quoteValue(raw.arrivals)}`);
  }

  if (issues.length > 0 || !form) return { ok: false, issues };
  const v = form.values;
  const repeat = then === 'repeat' && cycles !== undefined ? { cycles } : {};
  const rates: Rates =
    form.kind === 'constant'
      ? { kind: 'constant', perMinute: v[0]! }
      : form.kind === 'steps'
        ? { kind: 'steps', perMinute: v, stepMs: stepMs!, then, ...repeat }
        : { kind: 'ramp', from: v[0]!, to: v[1]!, rampMs: rampMs!, then, ...repeat };
  const shape: LoadShapeSpec = { ...(start !== undefined && { start }), ...(end !== undefined && { end }), rates, arrivals };
  const flat = form.kind === 'constant' && start === undefined && end === undefined && arrivals === 'even';
  return { ok: true, shape, peak: Math.max(...v), flat };
}

/** One line for operators (`check`): what the shape does, in the config's own words, times in UTC. */
export function describeShape(shape: LoadShapeSpec): string {
  const r = shape.rates;
  const then = r.kind === 'constant' ? '' : r.then === 'repeat' ? `, repeated ${r.cycles === undefined ? 'until the end' : `${r.cycles} times in all`}` : r.then === 'stop' ? ', then stop' : ', then hold';
  const rates =
    r.kind === 'constant'
      ? `${r.perMinute}/min`
      : r.kind === 'steps'
        ? `steps ${r.perMinute.join(',')}/min of ${formatDuration(r.stepMs)} each${then}`
        : `ramp ${r.from}..${r.to}/min over ${formatDuration(r.rampMs)}${then}`;
  const from = shape.start === undefined ? '' : `, from ${new Date(shape.start).toISOString()}`;
  const until = shape.end === undefined ? '' : ` until ${new Date(shape.end).toISOString()}`;
  return `${rates}, ${shape.arrivals} arrivals${from}${until}`;
}
