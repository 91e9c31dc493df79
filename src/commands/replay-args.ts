/**
 * `canihaz replay`'s own options (beside the settings every command takes): where to send, the range,
 * the tests and the time the server may take, declared for the argument parser and checked here,
 * every bad value at once. `--to` names both the destination (`graphite://host:port`, or the word
 * `graphite`) and, as in `report`, the end of the range (an ISO time): its value says which.
 */
import { CanihazError } from '../errors.js';
import { parseDestinations, type Destination, type DestinationDefaults } from '../metrics/destination.js';
import { parseSince, rangeOf } from './report-args.js';

/** parseArgs options of `replay` (node:util's shape). */
export const REPLAY_OPTIONS = {
  to: { type: 'string', multiple: true },
  since: { type: 'string' },
  from: { type: 'string' },
  test: { type: 'string', multiple: true },
  timeout: { type: 'string' },
} as const;

/** How long the server may take to accept the connection, to take more data, or to close after us. */
export const DEFAULT_REPLAY_TIMEOUT_MS = 30_000;
/** The longest --timeout. */
const MAX_TIMEOUT_MS = 3_600_000;
/** The replay's query, checked. */
export interface ReplayQuery {
  destination: Extract<Destination, { kind: 'graphite' }>;
  /** The range [from, to), epoch ms. */
  from: number;
  to: number;
  tests: string[];
  timeoutMs: number;
}

/** A `--to` value that names a destination rather than a time. */
const DESTINATION_WORD = /^[a-z][a-z0-9+.-]*(?::\/\/|$)/i;

/**
 * Checks `replay`'s own options as parsed (`values` of parseArgs) at `nowWall`, with the bare word
 * `graphite` meaning the `graphite` setting (`defaults`); throws one usage error naming every bad
 * option. Default range: the last hour; `--from` without an end time: up to now.
 */
export function replayQuery(values: Record<string, unknown>, nowWall: number, defaults: DestinationDefaults): ReplayQuery {
  const problems: string[] = [];
  const str = (k: string) => (typeof values[k] === 'string' ? values[k] : undefined);
  const list = (k: string) => (Array.isArray(values[k]) ? (values[k] as unknown[]).filter((v): v is string => typeof v === 'string') : []);
  const tos = list('to');
  const destinations = tos.filter((v) => DESTINATION_WORD.test(v));
  const times = tos.filter((v) => !DESTINATION_WORD.test(v));
  let destination: ReplayQuery['destination'] | undefined;
  if (destinations.length === 0) problems.push('--to: give the destination, as in --to graphite://host:port (or --to graphite: the graphite setting)');
  else if (destinations.length > 1) problems.push(`--to: one destination at a time, got ${destinations.length}`);
  else {
    const parsed = parseDestinations(destinations[0]!, defaults);
    const d = parsed.ok ? parsed.destinations : [];
    if (!parsed.ok) problems.push(`--to: ${parsed.message}`);
    else if (d.length !== 1 || d[0]!.kind !== 'graphite') problems.push('--to: replay sends to Graphite only: expected graphite://host:port or graphite');
    else destination = d[0];
  }
  if (times.length > 1) problems.push('--to: one end time at most');

  const { from, to } = rangeOf({ since: str('since'), from: str('from'), to: times[0] }, nowWall, problems, {
    example: '30m, 2h or 2d',
    toNeedsFrom: 'an end time needs --from',
    toSuffix: ' (or a destination such as graphite://host:port)',
  });

  let timeoutMs = DEFAULT_REPLAY_TIMEOUT_MS;
  const timeout = str('timeout');
  if (timeout !== undefined) {
    const ms = parseSince(timeout);
    if (ms === undefined || ms <= 0 || ms > MAX_TIMEOUT_MS) problems.push(`--timeout: expected a duration from 1s to 1h such as 30s or 5m, got "${timeout.slice(0, 40)}"`);
    else timeoutMs = ms;
  }
  const tests = list('test');
  for (const t of tests) if (t === '') problems.push('--test: needs a test name');
  if (problems.length > 0 || destination === undefined) throw new CanihazError('E_USAGE', problems.join('\n'));
  return { destination, from, to, tests, timeoutMs };
}
