/**
 * `canihaz replay`: the journal's intervals sent again to a Graphite server, with the live Graphite
 * sink's paths, values and timestamps, to backfill an outage.
 */
import type { Clock } from '../clock.js';
import { ExitCode } from '../errors.js';
import { streamJournal } from '../journal/interval-stream.js';
import { journalDir, type IntervalRecord } from '../journal/records.js';
import { destinationKey, type Destination } from '../metrics/destination.js';
import type { IntervalSnapshot } from '../metrics/intervals.js';
import { expandPrefix, graphiteIntervalPoints } from '../metrics/names.js';
import { openGraphiteUpload, UploadError, type GraphiteUpload } from './replay-send.js';

/** What `replay` needs. */
export interface ReplayOptions {
  /** The `state_dir` setting: the journal is `<stateDir>/journal`. */
  stateDir: string;
  destination: Extract<Destination, { kind: 'graphite' }>;
  /** The range [from, to), epoch ms: intervals whose start lies in it are sent. */
  from: number;
  to: number;
  /** Only these tests (all when empty). */
  tests: readonly string[];
  /** The `graphite_prefix` setting as written (`canihaz.{host}`), expanded with each run's host as the run's sink did. */
  graphitePrefix: string;
  /** This host's name: the prefix's `{host}` for an interval whose run record is not in the range. */
  hostname: string;
  /** Bound on the connect, each wait for the server to take more, and its close, ms. */
  timeoutMs: number;
  clock: Clock;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Bytes of lines handed to the socket at a time. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Re-sends the journal's intervals in the range to a Graphite server as the run's Graphite sink sent
 * them: the same paths (the `graphite_prefix` expanded with the run's host, `names.ts`'s
 * `graphiteIntervalPoints`), values rounded to 3 decimals and timestamps (the interval start in
 * whole seconds). Graphite keeps the last value per path and timestamp, so a replay over a range the
 * server already holds, or a second replay, changes nothing. The journal is streamed in the order it
 * was written (an interval re-written after late completions is sent again, after its first version,
 * as the run sent it) and the lines are written with backpressure: memory holds a 1 MiB chunk of the
 * journal, 64 KiB of lines, the host of each run and the keys of one day's intervals.
 *
 * Exit 0 when every point was sent and the server closed its side after ours (an empty range: 0,
 * nothing sent, no connection made); 69 when they could not be delivered (the message names the
 * destination, why, and how many points the kernel had taken before); 2 when the journal cannot be read.
 */
export async function replayCommand(options: ReplayOptions): Promise<ExitCode> {
  const { out, err, from, to } = options;
  const dir = journalDir(options.stateDir);
  const name = destinationKey(options.destination);
  const wanted = options.tests.length > 0 ? new Set(options.tests) : undefined;
  /** Each run's host, from its run record (written when its window starts, before its intervals). */
  const hosts = new Map<string, string>();
  const prefixes = new Map<string, string>();
  const seen = { intervals: 0, resent: 0, tests: new Set<string>(), runs: new Set<string>(), files: 0 };
  /** The day file's (run, test, start) already sent: a record after late completions is sent again, as the live sink did. */
  let sentToday = new Set<string>();
  let upload: GraphiteUpload | undefined;
  let chunk = '';
  let chunkPoints = 0;

  const send = async () => {
    if (chunkPoints === 0) return;
    upload ??= await openGraphiteUpload({ host: options.destination.host, port: options.destination.port, clock: options.clock, timeoutMs: options.timeoutMs });
    const [text, points] = [chunk, chunkPoints];
    chunk = '';
    chunkPoints = 0;
    await upload.write(text, points);
  };
  const prefixOf = (host: string) => {
    let prefix = prefixes.get(host);
    if (prefix === undefined) prefixes.set(host, (prefix = expandPrefix(options.graphitePrefix, host)));
    return prefix;
  };
  const add = (r: IntervalRecord) => {
    const ts = Math.floor(r.start / 1000);
    for (const p of graphiteIntervalPoints(prefixOf(hosts.get(r.run) ?? options.hostname), snapshotOf(r))) {
      chunk += `${p.path} ${formatValue(p.value)} ${ts}\n`;
      chunkPoints += 1;
    }
    const key = `${r.run}\u0000${r.test}\u0000${r.start}`;
    if (sentToday.has(key)) seen.resent += 1;
    else {
      sentToday.add(key);
      seen.intervals += 1;
    }
    seen.tests.add(r.test);
    seen.runs.add(r.run);
  };

  try {
    try {
      for await (const item of streamJournal(dir, from, to)) {
        if (item.kind === 'run') hosts.set(item.record.run, item.record.host);
        else if (item.kind === 'interval') {
          const r = item.record;
          if ((wanted && !wanted.has(r.test)) || !sentLive(r)) continue;
          add(r);
          if (chunk.length >= CHUNK_CHARS) await send();
        } else {
          sentToday = new Set();
          if (item.found) seen.files += 1;
          const s = item.skipped;
          if (s) err(`canihaz: journal ${s.file}: skipped ${s.torn > 0 ? `${s.torn} torn last line${s.bad > 0 ? ' and ' : ''}` : ''}${s.bad > 0 ? `${s.bad} unreadable line${s.bad === 1 ? '' : 's'}` : ''}`);
        }
      }
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      // Only the file system's errors (they name their syscall) are the journal's; the rest go on up.
      if (e instanceof UploadError || typeof x?.syscall !== 'string') throw e;
      upload?.destroy();
      err(`canihaz: journal ${dir}: cannot be read: ${x.code ?? ''}${x.code ? ' ' : ''}${x.message ?? String(e)}${sentBefore(upload)}`);
      return ExitCode.UNREADABLE;
    }
    await send();
    const between = `between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`;
    for (const t of options.tests) if (!seen.tests.has(t)) err(`canihaz: no intervals of test ${JSON.stringify(t)} ${between}`);
    if (!upload) {
      out(`no intervals ${between}${seen.files === 0 ? ` (no journal files in ${dir})` : ''}: nothing sent`);
      return ExitCode.OK;
    }
    await upload.finish();
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    out(
      `sent ${plural(upload.written, 'point')} of ${plural(seen.intervals, 'interval')} (${plural(seen.tests.size, 'test')}, ` +
        `${plural(seen.runs.size, 'run')}${seen.resent > 0 ? `; ${plural(seen.resent, 'interval')} sent again with the figures late completions gave it, as the run did` : ''}) ${between} to ${name}`,
    );
    return ExitCode.OK;
  } catch (e) {
    upload?.destroy();
    if (!(e instanceof UploadError)) throw e;
    err(`canihaz: ${name}: ${e.message}${sentBefore(upload)}`);
    return ExitCode.UNAVAILABLE;
  }
}

/** What was written before a failure, and what to do about it. */
function sentBefore(upload: GraphiteUpload | undefined): string {
  if (!upload) return '; nothing was sent';
  return `; ${upload.written} point${upload.written === 1 ? '' : 's'} had been written before (the server may have stored fewer): replay the same range again once it is fixed, which rewrites what it holds with the same values`;
}

/**
 * Whether the run's Graphite sink sent this interval: it files only executions, drops, misses and
 * aborts, so an interval the journal holds only for its planned ticks (`requested`) made no points.
 */
function sentLive(r: IntervalRecord): boolean {
  return r.ok + r.failed + r.dropped + r.missed + r.aborted > 0 || (r.metrics?.length ?? 0) > 0;
}

/** A journal interval as the Graphite sink's aggregator gave it (its figures are recorded the same). */
function snapshotOf(r: IntervalRecord): IntervalSnapshot {
  const samples = (r.metrics ?? []).map((m) => (m.kind === 'timing' ? { name: m.name, kind: m.kind, summary: m.summary } : { name: m.name, kind: m.kind, value: m.value }));
  return {
    test: r.test,
    startWallMs: r.start,
    count: r.ok + r.failed,
    ok: r.ok,
    failed: r.failed,
    dropped: r.dropped,
    missed: r.missed,
    aborted: r.aborted,
    latency: r.latency,
    ...(r.le ? { le: r.le } : {}),
    ...(samples.length > 0 ? { samples } : {}),
  };
}

/** A value as the Graphite sink writes it: rounded to 3 decimals, 0 when not finite. */
function formatValue(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : 0;
}
