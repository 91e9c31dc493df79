/**
 * `canihaz report`'s own options (beside the settings every command takes): the range, the tests and
 * the format, declared for the argument parser and checked here, every bad value at once.
 */
import { CanihazError } from '../errors.js';

/** The report's output formats. */
export const REPORT_FORMATS = ['table', 'json', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** parseArgs options of `report` (node:util's shape). */
export const REPORT_OPTIONS = {
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  test: { type: 'string', multiple: true },
  format: { type: 'string' },
} as const;

/** The range when none is given: the last hour. */
export const DEFAULT_SINCE_MS = 3_600_000;
/** The longest range: as many days as `journal_days` may keep. */
const MAX_RANGE_MS = 366 * 86_400_000;

/** The report's query, checked. */
export interface ReportQuery {
  /** The range [from, to), epoch ms. */
  from: number;
  to: number;
  tests: string[];
  format: ReportFormat;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m` → 1 800 000; undefined when not a duration. */
export function parseSince(text: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

/**
 * An ISO 8601 time with its zone (`2026-11-23T10:00:00Z`, `…+01:00`) or a date (`2026-11-23`, UTC
 * midnight), as epoch ms; a message when it is not one. A time without a zone is refused: the journal
 * is in UTC and a guess would be an hour off somewhere.
 */
export function parseTime(text: string): number | string {
  const m = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text);
  if (!m) return `expected an ISO 8601 time such as 2026-11-23T10:00:00Z, or a date such as 2026-11-23, got "${text.slice(0, 40)}"`;
  if (text.includes('T') && m[1] === undefined) return `give the time zone (Z for UTC), as in ${text}Z: the journal is kept in UTC`;
  // Date.parse rolls 2026-02-31 over into March: check the calendar date first.
  const [y, mo, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const ms = Date.parse(text.includes('T') ? text : `${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d && mo >= 1 && mo <= 12 ? ms : `not a valid time: "${text.slice(0, 40)}"`;
}

/** How a command words two of its range problems (`report` and `replay` differ only there). */
export interface RangeWords {
  /** Durations shown in the `--since` message, e.g. `30m, 1h or 2d`. */
  example: string;
  /** The `--to` message when an end time comes without `--from`. */
  toNeedsFrom: string;
  /** Appended to a bad `--to` time's message. */
  toSuffix?: string;
}

/**
 * The range [from, to) that `--since` or `--from` (and `--to`) give at `nowWall`, as `report` and
 * `replay` read them: by default the last hour; `--from` without `--to`: up to now; at most 366 days.
 * Every problem is pushed to `problems`, each naming its option.
 */
export function rangeOf(given: { since?: string | undefined; from?: string | undefined; to?: string | undefined }, nowWall: number, problems: string[], words: RangeWords): { from: number; to: number } {
  const { since, from: fromText, to: toText } = given;
  let from = nowWall - DEFAULT_SINCE_MS;
  let to = nowWall;
  if (since !== undefined) {
    const ms = parseSince(since);
    if (ms === undefined || ms <= 0) problems.push(`--since: expected a duration such as ${words.example} (s, m, h, d), got "${since.slice(0, 40)}"`);
    else if (ms > MAX_RANGE_MS) problems.push('--since: must be at most 366d');
    else from = nowWall - ms;
    if (fromText !== undefined || toText !== undefined) problems.push('--since: give either --since or --from/--to, not both');
  }
  if (fromText !== undefined) {
    const t = parseTime(fromText);
    if (typeof t === 'string') problems.push(`--from: ${t}`);
    else from = t;
  } else if (toText !== undefined && since === undefined) problems.push(`--to: ${words.toNeedsFrom}`);
  if (toText !== undefined) {
    const t = parseTime(toText);
    if (typeof t === 'string') problems.push(`--to: ${t}${words.toSuffix ?? ''}`);
    else to = t;
  }
  if (problems.length === 0 && fromText !== undefined && !(from < to)) problems.push('--from: must be before --to (or before now)');
  else if (problems.length === 0 && to - from > MAX_RANGE_MS) problems.push('--from: the range must be at most 366 days');
  return { from, to };
}

/**
 * Checks `report`'s own options as parsed (`values` of parseArgs) at `nowWall`; throws one usage
 * error naming every bad option. Default range: the last hour; `--from` without `--to`: up to now.
 */
export function reportQuery(values: Record<string, unknown>, nowWall: number): ReportQuery {
  const problems: string[] = [];
  const str = (k: string) => (typeof values[k] === 'string' ? values[k] : undefined);
  const { from, to } = rangeOf({ since: str('since'), from: str('from'), to: str('to') }, nowWall, problems, {
    example: '30m, 1h or 2d',
    toNeedsFrom: 'needs --from',
  });
  const format = str('format') ?? 'table';
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) problems.push(`--format: expected table, json or csv, got "${format.slice(0, 40)}"`);
  const tests = Array.isArray(values.test) ? values.test.filter((t): t is string => typeof t === 'string') : [];
  for (const t of tests) if (t === '') problems.push('--test: needs a test name');
  if (problems.length > 0) throw new CanihazError('E_USAGE', problems.join('\n'));
  return { from, to, tests, format: format as ReportFormat };
}
