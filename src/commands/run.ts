import type { Clock } from '../clock.js';
import { destinationKey, type Destination } from '../config/destination.js';
import type { Settings } from '../config/settings.js';
import { formatLineError, loadTests, type LoadedTests, type TestSpec } from '../config/tests-file.js';
import { acquireSlot } from '../control/lock-slots.js';
import { stopFileExists, watchStopFile } from '../control/stop-file.js';
import { watchConfig } from '../control/watch.js';
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Probe } from '../probes/probe.js';
import { createSinkRouter } from '../metrics/router.js';
import { windowFor } from '../schedule/plan.js';
import { createScheduler, type Scheduler } from '../schedule/scheduler.js';

/** Everything one `canihaz run` needs. */
export interface RunOptions {
  settings: Settings;
  /** Own [start, start + lifetime) instead of the wall-clock minute. */
  lifetimeSeconds?: number;
  clock: Clock;
  logger: Logger;
  hostname: string;
  /** Aborts when this copy must stop (SIGTERM, SIGINT): same path as the stop file. */
  stopSignal?: AbortSignal;
  /** Where console metrics go; default stdout. */
  write?: (line: string) => void;
}

/** How long metrics may take to flush at the end of a window. */
export const FLUSH_DEADLINE_MS = 2_000;
/** How long metrics may take to flush when stopping early (stop file, signal): the whole stop is < 500 ms. */
export const STOP_FLUSH_DEADLINE_MS = 250;

/**
 * Runs every configured test for one window: stop file first, then a lock slot, then the tests,
 * following config changes live, until the window ends or a stop is asked for.
 */
export async function runCommand(options: RunOptions): Promise<ExitCode> {
  const { settings, clock, logger, hostname } = options;
  // The minute is fixed the moment the run starts (set-up must not push it into the next minute,
  // which belongs to the next copy); a --lifetime window starts once set-up is done.
  const minute = options.lifetimeSeconds === undefined ? monoWindow(clock) : undefined;
  const load = () => loadTests(settings.config, { maxFrequency: settings.maxFrequency, destinationDefaults: settings.destinationDefaults });
  const routerOptions = {
    clock,
    logger,
    hostname,
    statsdPrefix: settings.statsdPrefix,
    graphitePrefix: settings.graphitePrefix,
    ...(options.write ? { write: options.write } : {}),
  };

  if (await stopFileExists(settings.stopFile)) {
    logger.notice('stop file present: not running', { stop_file: settings.stopFile });
    return ExitCode.OK;
  }

  const stop = new AbortController();
  const slot = await acquireSlot({
    dir: settings.lockDir,
    logger,
    onCompromised: (err: Error) => {
      logger.error('lock slot lost: ending this run', { lock_dir: settings.lockDir, error: err.message });
      stop.abort('lock');
    },
  });
  if (!slot) {
    logger.warn('all lock slots are busy (earlier copies still running): skipping this minute', { lock_dir: settings.lockDir });
    await reportSkipped(await load(), createSinkRouter(routerOptions), clock);
    return ExitCode.OK;
  }
  try {
    return await runWindow(slot.slot);
  } finally {
    await slot.release();
  }

  async function runWindow(slotNumber: number): Promise<ExitCode> {
    const router = createSinkRouter(routerOptions);
    // Watch for a stop from here on, before set-up: a stop during set-up must not let ticks start.
    let scheduler: Scheduler | undefined;
    const stopWatch = watchStopFile({ path: settings.stopFile, onStop: () => stop.abort('stop file') });
    const onStop = () => {
      logger.notice('stopping: aborting executions in flight', { reason: String(stop.signal.reason) });
      scheduler?.abort();
    };
    stop.signal.addEventListener('abort', onStop, { once: true });
    const forward = () => stop.abort('signal');
    options.stopSignal?.addEventListener('abort', forward, { once: true });
    if (options.stopSignal?.aborted) forward();

    let lastReport = '';
    const report = (loaded: LoadedTests) => {
      const lines =
        loaded.status === 'unreadable'
          ? [`cannot read config: ${loaded.message}`]
          : loaded.errors.map((e) => `config line skipped: ${formatLineError(e)}`);
      const key = lines.join('\n');
      if (key === lastReport) return;
      lastReport = key;
      for (const line of lines) logger.warn(line);
    };

    // Reloads run one at a time; a change during a reload (or before the scheduler exists) triggers one more.
    let reloading: Promise<void> | undefined;
    let again = false;
    const reload = () => {
      if (reloading || !scheduler) {
        again = true;
        return;
      }
      const target = scheduler;
      reloading = (async () => {
        do {
          again = false;
          const loaded = await load();
          report(loaded);
          // An unreadable config keeps what runs; a missing one stops everything.
          if (loaded.status !== 'unreadable') target.apply(loaded.specs, { catchUp: false });
        } while (again && !stop.signal.aborted);
      })().finally(() => (reloading = undefined));
    };

    // Watch first, then read: a change made after the read is never missed.
    const configWatch = await watchConfig({ path: settings.config, logger, onChange: reload });
    const initial = await load();
    report(initial);
    if (initial.status === 'missing') logger.info('no config yet: watching for one', { config: settings.config });
    const prepared = await prepareProbes(initial.specs, logger);
    const window = minute ?? monoWindow(clock, options.lifetimeSeconds);
    const running = createScheduler({
      clock,
      logger,
      hostname,
      window,
      maxInflight: settings.maxInflight,
      emit: (spec, event) => router.emit(spec.destinations, event),
      probeFor: (spec) => prepared.get(spec),
    });
    scheduler = running;
    if (stop.signal.aborted) {
      // Stopped during set-up: nothing starts.
      running.abort();
      await Promise.all([...prepared.values()].map((p) => p.close().catch(() => undefined)));
    } else {
      running.apply(initial.specs, { catchUp: true });
      if (again) reload();
    }
    prepared.clear();

    logger.info('run started', {
      slot: slotNumber,
      tests: initial.specs.length,
      window_start: new Date(window.startWall).toISOString(),
      window_end: new Date(window.endWall).toISOString(),
    });

    await running.run();
    stopWatch.close();
    await configWatch.close();
    await reloading;
    for (const { name, p50, p99, ...counts } of running.summaries()) {
      logger.notice('summary', { test: name, ...counts, p50_ms: round2(p50), p99_ms: round2(p99) });
    }
    await router.stop(clock.now() + (stop.signal.aborted ? STOP_FLUSH_DEADLINE_MS : FLUSH_DEADLINE_MS));
    return ExitCode.OK;
  }
}

/** How long start-up waits for probes to warm up and open their first connections. */
export const PREPARE_DEADLINE_MS = 1_000;

/**
 * Warms each probe type once and creates each running test's probe ahead, opening its first
 * connection, so the first ticks land on time. Bounded by PREPARE_DEADLINE_MS; a slow or
 * unreachable target only means its first execution connects as usual.
 */
async function prepareProbes(specs: readonly TestSpec[], logger: Logger): Promise<Map<TestSpec, Probe>> {
  const running = specs.filter((s) => s.frequency > 0);
  const probes = new Map<TestSpec, Probe>();
  const work = (async () => {
    await Promise.all([...new Set(running.map((s) => s.probeType))].map((t) => t.prepare?.()));
    await Promise.all(
      running.map(async (spec) => {
        try {
          const probe = spec.probeType.create(spec.options);
          probes.set(spec, probe);
          await probe.prepare?.();
        } catch (err) {
          logger.debug('probe not prepared', { test: spec.name, error: String(err) });
        }
      }),
    );
  })();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, PREPARE_DEADLINE_MS)))]);
  clearTimeout(timer);
  return probes;
}

/** Counts `agent.skipped` on every StatsD destination the config names, so dashboards show lost minutes. */
async function reportSkipped(loaded: LoadedTests, router: ReturnType<typeof createSinkRouter>, clock: Clock): Promise<void> {
  const seen = new Set<string>();
  const statsd: Destination[] = [];
  for (const spec of loaded.specs) {
    for (const d of spec.destinations) {
      if (d.kind !== 'statsd') continue;
      const key = destinationKey(d);
      if (seen.has(key)) continue;
      seen.add(key);
      statsd.push(d);
    }
  }
  if (statsd.length === 0) return;
  router.recordAgent(statsd, { name: 'skipped', value: 1 });
  await router.stop(clock.now() + STOP_FLUSH_DEADLINE_MS);
}

/** The run's window on both clocks: the current minute, or [now, now + lifetime). */
function monoWindow(clock: Clock, lifetimeSeconds?: number) {
  const wallNow = clock.wallNow();
  const monoNow = clock.now();
  const { startWall, endWall } = windowFor(wallNow, lifetimeSeconds);
  return { start: monoNow - (wallNow - startWall), end: monoNow + (endWall - wallNow), startWall, endWall };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
