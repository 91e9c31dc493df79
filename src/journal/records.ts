/**
 * The journal's records: one JSON object per line, `{"v":1,"kind":…}`. An `interval` record holds one
 * test's figures for one 10-second interval of one run (what the Graphite sink sends for it, plus the
 * failures by reason and the mergeable latency histogram); a `run` record one copy's window and
 * books; a `skipped` record a copy that found every lock slot busy. Readers keep the last record per
 * (run, test, interval start) and per run, so a re-sent interval or a finished run supersedes.
 */
import { join } from 'node:path';
import { LATENCY_BUCKET_NAMES, type TestCounts } from '../events.js';
import type { EncodedHistogram } from './histogram.js';

/** The record format's version; a reader skips (and counts) records of another. */
export const JOURNAL_VERSION = 1;

/** A distribution's figures as the Graphite sink sends them (`<name>.mean`, `.p50`, …), ms. */
export interface Distribution {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** One of a result's own figures over an interval: a counter's sum, a gauge's last value, a timing's distribution. */
export type MetricFigure =
  | { name: string; kind: 'counter' | 'gauge'; value: number }
  | { name: string; kind: 'timing'; summary: Distribution; hist: EncodedHistogram };

/** What happened to one test's ticks in one interval (planned ticks filed where the plan was made). */
export interface IntervalCounts {
  requested: number;
  ok: number;
  failed: number;
  dropped: number;
  missed: number;
  aborted: number;
}

/** One test, one 10-second interval, one run. */
export interface IntervalRecord extends IntervalCounts {
  v: 1;
  kind: 'interval';
  /** The run (copy) that wrote it. */
  run: string;
  test: string;
  /** Interval start, epoch ms: the Graphite sink stamps its points with `floor(start / 1000)`. */
  start: number;
  /** Failed executions by reason. */
  failures: Record<string, number>;
  /** Latency as the Graphite sink sent it; null when no execution completed. */
  latency: Distribution | null;
  /** The latency histogram (ok and failed executions); null when none completed. */
  hist: EncodedHistogram | null;
  /**
   * The same executions counted cumulatively per latency bound, as the live sinks send them
   * (`latency.le_<ms>`, LATENCY_BUCKET_NAMES order, `le_inf` last); absent when none completed, and in
   * records written before the counters existed (a replay of those sends no `le_` points).
   */
  le?: number[];
  /** The results' own figures, in first-seen order (absent when none). */
  metrics?: MetricFigure[];
}

/** How a run ended; null while it runs (or when the copy was killed before it could say). */
export type RunEnd = 'window end' | 'stop file' | 'signal' | 'slot lost';
export const RUN_ENDS: readonly RunEnd[] = ['window end', 'stop file', 'signal', 'slot lost'];

/** One copy: written when its window starts (`ended: null`) and again, superseding, when it ends. */
export interface RunRecord {
  v: 1;
  kind: 'run';
  run: string;
  host: string;
  /** The lock slot the copy held (0, 1, 2). */
  slot: number;
  /** The window it owned, epoch ms: [start, end). */
  start: number;
  end: number;
  ended: RunEnd | null;
  /** When the record was written, epoch ms: at stop, when the run ended (before its window's end after a stop). */
  at: number;
  /** Per test: the end-of-run books (as the summary line). */
  books: Record<string, TestCounts>;
}

/** A copy that found every lock slot busy and ran nothing. */
export interface SkippedRecord {
  v: 1;
  kind: 'skipped';
  host: string;
  /** When it gave up, epoch ms. */
  at: number;
}

export type JournalRecord = IntervalRecord | RunRecord | SkippedRecord;

/** One record as a journal line, newline included. */
export function encodeRecord(record: JournalRecord): string {
  return JSON.stringify(record) + '\n';
}

/** The journal directory under a state directory: `<state_dir>/journal`. */
export function journalDir(stateDir: string): string {
  return join(stateDir, 'journal');
}

/** The UTC day a time falls in, as the journal names its files: `2026-11-23`. */
export function journalDay(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(0, 10);
}

/** The file name of a day: `2026-11-23.jsonl`. */
export const JOURNAL_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** Parses one line (without its newline); undefined when it is not a record of this version. */
export function decodeRecord(line: string): JournalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r.v !== JOURNAL_VERSION) return undefined;
  switch (r.kind) {
    case 'interval':
      return isInterval(r) ? (r as unknown as IntervalRecord) : undefined;
    case 'run':
      return isRun(r) ? (r as unknown as RunRecord) : undefined;
    case 'skipped':
      return typeof r.host === 'string' && isTime(r.at) ? (r as unknown as SkippedRecord) : undefined;
    default:
      return undefined;
  }
}

const COUNT_KEYS = ['requested', 'ok', 'failed', 'dropped', 'missed', 'aborted'] as const;

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isInterval(r: Record<string, unknown>): boolean {
  if (typeof r.run !== 'string' || typeof r.test !== 'string' || !isTime(r.start)) return false;
  if (!COUNT_KEYS.every((k) => isInt(r[k]))) return false;
  if (!isObject(r.failures) || !Object.values(r.failures).every(isInt)) return false;
  if (r.latency !== null && !isObject(r.latency)) return false;
  if (r.hist !== null && !isObject(r.hist)) return false;
  if (r.le !== undefined && !(Array.isArray(r.le) && r.le.length === LATENCY_BUCKET_NAMES.length && r.le.every(isInt))) return false;
  return r.metrics === undefined || (Array.isArray(r.metrics) && r.metrics.every(isMetric));
}

function isMetric(m: unknown): boolean {
  if (!isObject(m) || typeof m.name !== 'string') return false;
  if (m.kind === 'timing') return isObject(m.summary) && isObject(m.hist);
  return (m.kind === 'counter' || m.kind === 'gauge') && isTime(m.value);
}

function isRun(r: Record<string, unknown>): boolean {
  if (typeof r.run !== 'string' || typeof r.host !== 'string' || !isInt(r.slot) || !isTime(r.start) || !isTime(r.end) || !isTime(r.at)) return false;
  if (r.ended !== null && !RUN_ENDS.includes(r.ended as RunEnd)) return false;
  return isObject(r.books) && Object.values(r.books).every(isObject);
}
