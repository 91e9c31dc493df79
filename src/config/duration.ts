import { quoteValue } from './redact.js';

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
