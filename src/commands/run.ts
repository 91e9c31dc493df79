import type { Clock } from '../clock.js';
import type { Settings } from '../config/settings.js';
import { formatLineError, loadTests } from '../config/tests-file.js';
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { createSinkRouter } from '../metrics/router.js';
import { windowFor } from '../schedule/plan.js';
import { createScheduler } from '../schedule/scheduler.js';

/** Everything one `canihaz run` needs. */
export interface RunOptions {
  settings: Settings;
  /** Own [start, start + lifetime) instead of the wall-clock minute. */
  lifetimeSeconds?: number;
  clock: Clock;
  logger: Logger;
  hostname: string;
  /** Where console metrics go; default stdout. */
  write?: (line: string) => void;
}

/** How long metrics may take to flush at exit. */
export const FLUSH_DEADLINE_MS = 2_000;

/** Runs every configured test for one window, then flushes metrics. */
export async function runCommand(options: RunOptions): Promise<ExitCode> {
  const { settings, clock, logger, hostname } = options;
  const wallNow = clock.wallNow();
  const monoNow = clock.now();
  const { startWall, endWall } = windowFor(wallNow, options.lifetimeSeconds);
  const window = { start: monoNow - (wallNow - startWall), end: monoNow + (endWall - wallNow) };

  const loaded = await loadTests(settings.config, {
    maxFrequency: settings.maxFrequency,
    destinationDefaults: settings.destinationDefaults,
  });
  if (loaded.status === 'unreadable') logger.error('cannot read config', { config: settings.config, error: loaded.message });
  else if (loaded.status === 'missing') logger.info('no config: nothing to run', { config: settings.config });
  for (const e of loaded.errors) logger.warn(`config line skipped: ${formatLineError(e)}`, { file: e.file, line: e.line, field: e.field });

  const router = createSinkRouter({
    clock,
    logger,
    hostname,
    statsdPrefix: settings.statsdPrefix,
    graphitePrefix: settings.graphitePrefix,
    ...(options.write ? { write: options.write } : {}),
  });
  const scheduler = createScheduler({
    clock,
    logger,
    hostname,
    window,
    maxInflight: settings.maxInflight,
    emit: (spec, event) => router.emit(spec.destinations, event),
  });
  scheduler.apply(loaded.specs, { catchUp: true });
  logger.info('run started', {
    tests: loaded.specs.length,
    window_start: new Date(startWall).toISOString(),
    window_end: new Date(endWall).toISOString(),
  });

  await scheduler.run();
  for (const s of scheduler.summaries()) {
    logger.notice('summary', {
      test: s.name,
      requested: s.requested,
      started: s.started,
      ok: s.ok,
      failed: s.failed,
      dropped: s.dropped,
      missed: s.missed,
      aborted: s.aborted,
      p50_ms: round2(s.p50),
      p99_ms: round2(s.p99),
    });
  }
  await router.stop(clock.now() + FLUSH_DEADLINE_MS);
  return ExitCode.OK;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
