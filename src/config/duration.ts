const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d+)?|\.\d+)`;
const DURATION = new RegExp(`^(${NUMBER})(ms|s|m|h)$`);
const BARE_NUMBER = new RegExp(`^${NUMBER}$`);

/**
 * Parses a duration such as `500ms`, `5s`, `1.5s`, `1m` or `2h` into milliseconds; returns an error
 * message (without the field name) instead of throwing.
 */
export function parseDuration(text: string): number | { error: string } {
  const trimmed = text.trim();
  if (BARE_NUMBER.test(trimmed)) {
    return { error: `"${text}" has no unit; add one, e.g. ${trimmed}s or ${trimmed}ms` };
  }
  const m = DURATION.exec(trimmed);
  if (!m) return { error: `expected a duration such as 500ms, 5s, 1.5s or 1m, got "${text}"` };
  const ms = Number(m[1]) * UNIT_MS[m[2] as Unit];
  if (!(ms > 0)) return { error: `must be greater than zero, got "${text}"` };
  if (!Number.isFinite(ms)) return { error: `is too large, got "${text}"` };
  return ms;
}
