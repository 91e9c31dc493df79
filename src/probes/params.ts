/**
 * What every probe type's `key=value` fields share: durations, the zod field adapter, key handling
 * (unknown, repeated and repeatable keys; every problem reported, in the line's key order) and the
 * common keys — `timeout`, which each type parses with its own default and cap, and `concurrency`,
 * which the tests file reads for the scheduler.
 */
import { z } from 'zod';
import { quoteValue } from '../redact.js';
import type { ParamIssue, ProbeParams } from './probe.js';

/** The load-shape keys (issue 12) the tests file reads itself (config/shape-params.ts). */
const SHAPE_LINE_KEYS = ['start', 'end', 'for', 'step', 'ramp', 'then', 'repeat', 'arrivals'] as const;
/**
 * Keys every probe type accepts beside its own. The tests file takes `concurrency` and the shape
 * keys before the type's `parse` sees the fields; a scenario module may declare none of them.
 */
export const COMMON_KEYS = ['timeout', 'concurrency', ...SHAPE_LINE_KEYS] as const;
/** The common keys the tests file reads itself; a probe type never sees them. */
export const LINE_KEYS: ReadonlySet<string> = new Set(['concurrency', ...SHAPE_LINE_KEYS]);

/** A parsed value, or an operator-facing error message (without the field name). */
export type Parsed<T> = { value: T } | { error: string };

const UNIT_MS = { ms: 1n, s: 1_000n, m: 60_000n, h: 3_600_000n } as const;
type Unit = keyof typeof UNIT_MS;

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d+)?|\.\d+)`;
const DURATION = /^([-+]?)(\d*)(?:\.(\d+))?(ms|s|m|h)$/;
const BARE_NUMBER = new RegExp(`^${NUMBER}$`);

/**
 * Parses a duration such as `500ms`, `5s`, `1.5s`, `1m` or `2h` into a whole number of
 * milliseconds; returns an error message (without the field name) instead of throwing. Timers and
 * undici take whole milliseconds only, so `1.0005s` or `1.5ms` is an error here, not a failure on
 * every execution later. The arithmetic is exact (decimal, not floating point).
 */
export function parseDuration(text: string): number | { error: string } {
  const trimmed = text.trim();
  if (BARE_NUMBER.test(trimmed)) {
    const example = trimmed.length <= 20 ? trimmed : '5';
    return { error: `${quoteValue(text)} has no unit; add one, e.g. ${example}s or ${example}ms` };
  }
  const m = DURATION.exec(trimmed);
  if (!m || (m[2] === '' && m[3] === undefined)) {
    return { error: `expected a duration such as 500ms, 5s, 1.5s or 1m, got ${quoteValue(text)}` };
  }
  const [, sign, whole, fraction = '', unit] = m as unknown as [string, string, string, string | undefined, Unit];
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(`${whole || '0'}${fraction}`) * UNIT_MS[unit];
  if (scaled === 0n || sign === '-') return { error: `must be greater than zero, got ${quoteValue(text)}` };
  if (scaled % scale !== 0n) {
    return { error: `must be a whole number of milliseconds, got ${quoteValue(text)}; write e.g. ${exampleWhole(scaled, scale)}` };
  }
  const ms = scaled / scale;
  if (ms > BigInt(Number.MAX_SAFE_INTEGER)) return { error: `is too large, got ${quoteValue(text)}` };
  return Number(ms);
}

/** The nearest whole-millisecond duration (at least 1ms) to suggest instead of a fractional one. */
function exampleWhole(scaled: bigint, scale: bigint): string {
  const rounded = (scaled + scale / 2n) / scale;
  return `${rounded < 1n ? 1n : rounded}ms`;
}

/** A whole number of ms in the largest unit that holds it exactly: `300000` → `5m`. */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const size = Number(UNIT_MS[unit]);
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A zod string field whose value goes through a parser that returns an operator-facing error. */
export function field<T>(parse: (raw: string) => Parsed<T>, required?: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined && required ? required : undefined) })
    .transform((raw, ctx): T => {
      const parsed = parse(raw);
      if ('value' in parsed) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    });
}

/** The common `timeout` key of a probe type: a duration above zero, at most `maxMs`, `defaultMs` when not given. */
export function timeoutField(limits: { defaultMs: number; maxMs: number }) {
  return field((raw): Parsed<number> => {
    const ms = parseDuration(raw);
    if (typeof ms !== 'number') return ms;
    if (ms > limits.maxMs) return { error: `must be at most ${formatDuration(limits.maxMs)}, got ${quoteValue(raw)}` };
    return { value: ms };
  }).default(limits.defaultMs);
}

/** How a probe type's fields are checked. */
export interface ParamsSchema<Shape extends { timeout: z.ZodType<number> }> {
  /** The type's name, for the unknown-key message. */
  type: string;
  /** One field per key (see `field`, `timeoutField`), in the order the unknown-key message lists them. */
  shape: Shape;
  /** Keys that may be given more than once; their field takes every value, as an array. */
  repeatable?: readonly string[];
}

/** The result of checking a line's fields: the typed values, or every problem. */
export type ParamsResult<T> = { ok: true; data: T } | { ok: false; issues: ParamIssue[] };

/**
 * Builds the checker of a type's `key=value` fields, which reports every problem at once: unknown
 * keys, single keys given more than once (reported once, not also by their field), and each field's
 * own problems, in the order the keys appear on the line.
 */
export function paramsParser<Shape extends { timeout: z.ZodType<number> } & Record<string, z.ZodType>>(
  schema: ParamsSchema<Shape>,
): (params: ProbeParams) => ParamsResult<z.output<z.ZodObject<Shape>>> {
  const object = z.object(schema.shape);
  const known = new Set(Object.keys(schema.shape));
  const repeatable = new Set(schema.repeatable ?? []);
  const unknownKey = `unknown key; ${schema.type} accepts ${[...known, ...COMMON_KEYS.filter((k) => !known.has(k))].join(', ')}`;
  return (params) => {
    const issues: ParamIssue[] = [];
    const duplicated = new Set<string>();
    const input: Record<string, string | readonly string[]> = {};
    for (const [key, values] of params) {
      if (!known.has(key)) {
        issues.push({ field: key, message: unknownKey });
      } else if (repeatable.has(key)) {
        input[key] = values;
      } else {
        if (values.length > 1) {
          duplicated.add(key);
          issues.push({ field: key, message: 'given more than once' });
        }
        if (values[0] !== undefined) input[key] = values[0];
      }
    }
    const result = object.safeParse(input);
    if (!result.success) {
      issues.push(...result.error.issues.map((i) => ({ field: String(i.path[0] ?? ''), message: i.message })).filter((i) => !duplicated.has(i.field)));
    }
    if (issues.length > 0 || !result.success) {
      const order = [...params.keys()];
      const rank = (i: ParamIssue) => (order.includes(i.field) ? order.indexOf(i.field) : order.length);
      return { ok: false, issues: issues.sort((a, b) => rank(a) - rank(b)) };
    }
    return { ok: true, data: result.data };
  };
}
