/**
 * The dashboard's query strings, checked: the range (`since=1h`, or `from=` and `to=` ISO times with
 * their zone), the tests (`test=`, repeatable) and the runs' `limit`. Every problem at once, each
 * naming its parameter; the server answers them with 400.
 */

/** The longest range the dashboard reads: a week of journal files per request. */
export const MAX_RANGE_MS = 7 * 86_400_000;
/** The range when none is given. */
export const DEFAULT_RANGE_MS = 3_600_000;
/** Runs listed when no `limit` is given, and the most a `limit` may ask. */
export const DEFAULT_RUNS_LIMIT = 20;
export const MAX_RUNS_LIMIT = 1000;

/** A checked query: the range [from, to) in epoch ms; `limit` undefined when not given. */
export interface DashboardQuery {
  from: number;
  to: number;
  /** The range as asked, for caching: `since=1h`, or `from..to`. */
  key: string;
  tests: string[];
  limit: number | undefined;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const KNOWN = new Set(['since', 'from', 'to', 'test', 'limit']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

const show = (v: string) => JSON.stringify(v.slice(0, 40));

/** An ISO 8601 time with its zone, as epoch ms, or a message. */
function parseIso(name: string, text: string): number | string {
  if (!ISO.test(text)) return `${name}: expected an ISO 8601 time with its zone such as 2026-11-23T10:00:00Z, got ${show(text)}`;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : `${name}: not a valid time: ${show(text)}`;
}

/** Checks `params` at `nowWall`; a list of problems when any. */
export function parseDashboardQuery(params: URLSearchParams, nowWall: number): DashboardQuery | { problems: string[] } {
  const problems: string[] = [];
  for (const name of new Set(params.keys())) {
    if (!KNOWN.has(name)) problems.push(`${name.slice(0, 40)}: unknown parameter; expected since, from, to, test or limit`);
    else if (name !== 'test' && params.getAll(name).length > 1) problems.push(`${name}: given more than once`);
  }
  const since = params.get('since');
  const fromText = params.get('from');
  const toText = params.get('to');
  let from = nowWall - DEFAULT_RANGE_MS;
  let to = nowWall;
  let key = `since=${DEFAULT_RANGE_MS}`;
  if (since !== null) {
    const m = /^(\d{1,4})([mhd])$/.exec(since);
    const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
    if (ms === undefined || ms <= 0) problems.push(`since: expected a duration such as 1h, 24h or 7d (m, h, d), got ${show(since)}`);
    else if (ms > MAX_RANGE_MS) problems.push('since: must be at most 7d');
    else {
      from = nowWall - ms;
      key = `since=${ms}`;
    }
    if (fromText !== null || toText !== null) problems.push('since: give either since or from and to, not both');
  } else if (fromText !== null || toText !== null) {
    const f = fromText === null ? 'from: needed with to' : parseIso('from', fromText);
    const t = toText === null ? nowWall : parseIso('to', toText);
    if (typeof f === 'string') problems.push(f);
    if (typeof t === 'string') problems.push(t);
    if (typeof f === 'number' && typeof t === 'number') {
      if (!(f < t)) problems.push('from: must be before to (or before now)');
      else if (t - f > MAX_RANGE_MS) problems.push('from: the range must be at most 7 days');
      from = f;
      to = t;
      key = toText === null ? `from=${f}` : `from=${f}&to=${t}`;
    }
  }
  const tests = params.getAll('test');
  if (tests.some((t) => t === '')) problems.push('test: needs a test name');
  let limit: number | undefined;
  const limitText = params.get('limit');
  if (limitText !== null) {
    if (!/^\d{1,7}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_RUNS_LIMIT) {
      problems.push(`limit: expected a whole number from 1 to ${MAX_RUNS_LIMIT}, got ${show(limitText)}`);
    } else limit = Number(limitText);
  }
  if (problems.length > 0) return { problems };
  return { from, to, key: `${key}&test=${[...tests].sort().join(',')}`, tests, limit };
}
