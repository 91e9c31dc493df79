import type { Clock } from '../clock.js';
import { ExitCode } from '../errors.js';
import { foldJournal } from '../journal/fold-reader.js';
import { journalDir } from '../journal/records.js';
import { type JournalReport, type TestReport, type TimingReport } from '../journal/report-data.js';
import { DEFAULT_SINCE_MS, type ReportFormat } from './report-args.js';

/** What `report` needs. */
export interface ReportOptions {
  /** The `state_dir` setting: the journal is `<stateDir>/journal`. */
  stateDir: string;
  /** The range: the last `since` ms, or [from, to) in epoch ms (`to` default now). Default: the last hour. */
  since?: number;
  from?: number;
  to?: number;
  /** Only these tests (all when empty). */
  tests: readonly string[];
  format: ReportFormat;
  clock: Clock;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Most runs listed by the table (json lists every one). */
const TABLE_RUNS = 20;

/**
 * Sums this host's journal over a range and prints it: per test its books, failures by reason,
 * latency percentiles from merged histograms, executions per minute and custom metrics; then the
 * runs and the minutes skipped with every lock slot busy. Exit 0, also for an empty range (said on
 * stdout for `table`, on stderr for json and csv so their output stays data); 2 when the journal
 * cannot be read.
 */
export async function reportCommand(options: ReportOptions): Promise<ExitCode> {
  const { out, err } = options;
  const now = options.clock.wallNow();
  const to = options.to ?? now;
  const from = options.from ?? to - (options.since ?? DEFAULT_SINCE_MS);
  const dir = journalDir(options.stateDir);
  let range;
  try {
    range = await foldJournal(dir, from, to, { tests: options.tests });
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    err(`canihaz: journal ${dir}: cannot be read: ${x.code ?? ''}${x.code ? ' ' : ''}${x.message ?? String(e)}`);
    return ExitCode.UNREADABLE;
  }
  for (const s of range.skippedLines) {
    err(`canihaz: journal ${s.file}: skipped ${s.torn > 0 ? `${s.torn} torn last line${s.bad > 0 ? ' and ' : ''}` : ''}${s.bad > 0 ? `${s.bad} unreadable line${s.bad === 1 ? '' : 's'}` : ''}`);
  }
  const { report } = range;
  for (const t of options.tests) if (!report.tests.some((r) => r.test === t)) err(`canihaz: no records of test ${JSON.stringify(t)} between ${report.from} and ${report.to}`);
  const empty = report.tests.length === 0 && report.runs.length === 0 && report.skippedMinutes === 0;
  const noRecords = `no records between ${report.from} and ${report.to}${range.files.length === 0 ? ` (no journal files in ${dir})` : ''}`;
  if (empty && options.format !== 'table') err(`canihaz: ${noRecords}`);
  if (options.format === 'json') out(JSON.stringify(report, null, 2));
  else if (options.format === 'csv') for (const line of csv(report)) out(line);
  else if (empty) out(noRecords);
  else for (const line of table(report)) out(line);
  return ExitCode.OK;
}

/** The CSV columns, one row per test. */
const CSV_HEADER = ['test', 'requested', 'started', 'ok', 'failed', 'dropped', 'missed', 'aborted', 'per_minute', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'failures', 'metrics'];

/** RFC 4180 quoting, only where needed. */
function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** `timeout=3;status_503=1`. */
function pairs(record: Record<string, number | TimingReport>): string {
  return Object.entries(record)
    .map(([k, v]) => (typeof v === 'number' ? `${k}=${v}` : `${k}.p50=${v.p50};${k}.p99=${v.p99};${k}.max=${v.max};${k}.count=${v.count}`))
    .join(';');
}

function csv(report: JournalReport): string[] {
  return [
    CSV_HEADER.join(','),
    ...report.tests.map((t) =>
      [
        t.test,
        t.requested,
        t.started,
        t.ok,
        t.failed,
        t.dropped,
        t.missed,
        t.aborted,
        t.perMinute,
        t.latency?.p50 ?? '',
        t.latency?.p90 ?? '',
        t.latency?.p99 ?? '',
        t.latency?.max ?? '',
        pairs(t.failures),
        pairs(t.metrics),
      ]
        .map(csvCell)
        .join(','),
    ),
  ];
}

/** Rows (header first) as aligned columns: figures (`isFigure(column)`) right-aligned, text left-aligned. */
function columns(rows: (string | number)[][], isFigure: (column: number) => boolean): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (isFigure(i) ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join('  ').trimEnd());
}

const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));

function table(report: JournalReport): string[] {
  const lines = [`from ${report.from} to ${report.to}`, ''];
  if (report.tests.length > 0) {
    const head = ['test', 'requested', 'started', 'ok', 'failed', 'dropped', 'missed', 'aborted', 'per_min', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms'];
    const row = (t: TestReport) => [t.test, t.requested, t.started, t.ok, t.failed, t.dropped, t.missed, t.aborted, t.perMinute.toFixed(2), ms(t.latency?.p50), ms(t.latency?.p90), ms(t.latency?.p99), ms(t.latency?.max)];
    lines.push(...columns([head, ...report.tests.map(row)], (i) => i > 0));
    for (const t of report.tests) {
      if (Object.keys(t.failures).length > 0) lines.push(`  ${t.test} failures: ${pairs(t.failures).replaceAll(';', ' ')}`);
      if (Object.keys(t.metrics).length > 0) lines.push(`  ${t.test} metrics: ${pairs(t.metrics).replaceAll(';', ' ')}`);
    }
    lines.push('');
  }
  const ended = new Map<string, number>();
  for (const r of report.runs) ended.set(r.ended, (ended.get(r.ended) ?? 0) + 1);
  const how = [...ended].map(([e, n]) => `${n} ${e}`).join(', ');
  lines.push(`runs: ${report.runs.length}${how ? ` (${how})` : ''}; minutes skipped (all lock slots busy): ${report.skippedMinutes}`);
  if (report.runs.length > 0) {
    const shown = report.runs.slice(-TABLE_RUNS);
    lines.push(...columns([['start', 'end', 'host', 'slot', 'ended'], ...shown.map((r) => [r.start, r.end, r.host, r.slot, r.ended])], (i) => i === 3).map((l) => `  ${l}`));
    if (report.runs.length > shown.length) lines.push(`  (the last ${shown.length} of ${report.runs.length}; --format json lists every run)`);
  }
  return lines;
}
