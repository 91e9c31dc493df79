import { withDeadline, type Clock } from '../clock.js';
import type { Settings } from '../config/settings.js';
import type { LoadedTests } from '../config/load-tests.js';
import type { TestSpec } from '../config/tests-file.js';
import { acquireSlot } from '../control/lock-slots.js';
import { stopFileExists, watchStopFile } from '../control/stop-file.js';
import { startWatchdog, type Watchdog } from '../control/watchdog.js';
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { SinkRouterOptions } from '../metrics/router.js';
import type { ProbeRegistry } from '../probes/registry.js';
import { planTicks, windowFor } from '../schedule/plan.js';
import type { Scheduler } from '../schedule/scheduler.js';
import { nothingToRun } from './run-idle.js';
import { testJobs, type TestJob } from './test-jobs.js';

// The config parser (zod, every probe type and its HTTP client), the metric sinks, the config
// watcher (chokidar) and the scheduler are imported only once this copy holds a lock slot: when a
// slow target makes copies pile up, the ones that find every slot busy exit without loading them.

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
/** How long start-up waits for probes to warm up and open their first connections. */
export const PREPARE_DEADLINE_MS = 1_000;
/** How long a mid-run reload waits for a newly seen probe type to warm up and new probes to open their first connections. */
export const RELOAD_WARM_UP_DEADLINE_MS = 250;

/**
 * Runs every configured test for one window: stop file first, then a lock slot, then the tests,
 * following config changes live, until the window ends or a stop is asked for.
 */
export async function runCommand(options: RunOptions): Promise<ExitCode> {
  const { settings, clock, logger, hostname } = options;
  // The minute is fixed the moment the run starts (set-up must not push it into the next minute,
  // which belongs to the next copy); a --lifetime window starts once set-up is done.
  const minute = options.lifetimeSeconds === undefined ? windowFor(clock.wallNow()) : undefined;
  let probeTypes: ProbeRegistry | undefined;
  // Started before the first scenario module's code runs: a module that never yields (a busy loop at
  // import or in an execution) cannot be interrupted on the event loop, so a thread of its own ends
  // the copy once the loop has been blocked for blocked_limit (or at once when a stop file appears).
  let watchdog: Watchdog | undefined;
  const beforeImport = () => {
    watchdog ??= startWatchdog({
      clock,
      blockedLimitMs: settings.blockedLimitSeconds * 1_000,
      stopFile: settings.stopFile,
      logFormat: settings.logFormat,
    });
  };
  const load = async () => {
    const [{ loadTests }, { builtinProbeRegistry }] = await Promise.all([import('../config/load-tests.js'), import('../probes/registry.js')]);
    // One registry per process: each scenario module it finds is imported once, and a reload of the
    // config imports only the modules of type words it has not seen (see load-module.ts).
    probeTypes ??= builtinProbeRegistry({ typesDir: settings.typesDir, strictModes: settings.strictModes, clock, beforeImport });
    return loadTests(settings.config, {
      maxFrequency: settings.maxFrequency,
      maxTotalRate: settings.maxTotalRate,
      strictModes: settings.strictModes,
      destinationDefaults: settings.destinationDefaults,
      probeTypes,
    });
  };
  const routerOptions: SinkRouterOptions = {
    clock,
    logger,
    hostname,
    statsdPrefix: settings.statsdPrefix,
    statsdTags: settings.statsdTags,
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
    (await import('../journal/skipped.js')).journalSkipped({ stateDir: settings.stateDir, host: hostname, clock, logger });
    await reportSkipped(load, routerOptions, clock, logger);
    watchdog?.stop();
    return ExitCode.OK;
  }
  try {
    return await runWindow(slot.slot);
  } finally {
    watchdog?.stop();
    await slot.release();
  }

  async function runWindow(slotNumber: number): Promise<ExitCode> {
    const [{ isConfigFileName }, { followConfig }, { createSinkRouter }, { createSummarySink }, { createScheduler }, { createJournalSink }] = await Promise.all([
      import('../config/load-tests.js'),
      import('../control/follow-config.js'),
      import('../metrics/router.js'),
      import('../metrics/summary.js'),
      import('../schedule/scheduler.js'),
      import('../journal/journal-sink.js'),
    ]);
    const router = createSinkRouter(routerOptions);
    // Summary lines in the config's order (tests removed during the run after them).
    const summary = createSummarySink({ logger, order: () => applied.map((s) => s.name) });
    // Watch for a stop from here on, before set-up: a stop during set-up must not let ticks start.
    let scheduler: Scheduler<TestJob> | undefined;
    const stopWatch = watchStopFile({ path: settings.stopFile, clock, onStop: () => stop.abort('stop file') });
    const onStop = () => {
      logger.notice('stopping: aborting executions in flight', { reason: String(stop.signal.reason) });
      scheduler?.abort();
    };
    stop.signal.addEventListener('abort', onStop, { once: true });
    const forward = () => stop.abort('signal');
    options.stopSignal?.addEventListener('abort', forward, { once: true });
    if (options.stopSignal?.aborted) forward();

    let lastReport = '';
    // What the scheduler was last given: an unreadable config (or *.conf of a directory) keeps its share.
    let applied: readonly TestSpec[] = [];
    /** The job of each test last given to the scheduler: an unchanged test keeps its job (and probe). */
    let jobsByName = new Map<string, TestJob>();
    const report = async (loaded: LoadedTests) => {
      const keeping = applied.length > 0 ? `; keeping the ${applied.length} test${applied.length === 1 ? '' : 's'} already running` : '';
      // The tests file's module (zod with it) is loaded already when there are bad lines, and only then.
      const format = loaded.errors.length > 0 ? (await import('../config/tests-file.js')).formatLineError : String;
      const lines =
        loaded.status === 'unreadable'
          ? [`cannot read config: ${loaded.message}${keeping}`]
          : loaded.errors.map((e) => `config line skipped: ${format(e)}`);
      const key = lines.join('\n');
      if (key === lastReport) return;
      lastReport = key;
      for (const line of lines) logger.warn(line);
    };

    const config = await followConfig({
      path: settings.config,
      isConfigFile: isConfigFileName,
      logger,
      clock,
      load,
      signal: stop.signal,
      async reload(loaded) {
        await report(loaded);
        // An unreadable config keeps what runs, and so does an unreadable *.conf of a directory (its
        // tests only); a missing one stops everything.
        if (loaded.status === 'unreadable') return;
        const names = new Set(loaded.specs.map((s) => s.name));
        const kept = loaded.status === 'ok' ? applied.filter((s) => loaded.unreadableFiles.includes(s.file) && !names.has(s.name)) : [];
        applied = [...loaded.specs, ...kept];
        // New and changed tests' probes are created and prepared before they are planned.
        const previous = jobsByName;
        // The window is set once the scheduler is (a shaped test that owes the rest of it nothing is not prepared).
        const rest = scheduler && { startWall: clock.wallNow(), endWall: window.endWall };
        const fresh = await testJobs(loaded.specs, { logger, clock, deadlineMs: RELOAD_WARM_UP_DEADLINE_MS, running: previous, window: rest });
        const jobs = [...fresh, ...kept.flatMap((s) => previous.get(s.name) ?? [])];
        if (stop.signal.aborted) {
          // Stopping: what was created for this reload never runs.
          await Promise.all(fresh.filter((j) => previous.get(j.name) !== j).map((j) => j.close?.().catch(() => undefined)));
          return;
        }
        jobsByName = new Map(jobs.map((j) => [j.name, j]));
        scheduler?.apply(jobs, { catchUp: false });
      },
    });
    const initial = config.initial;
    await report(initial);
    const idle = nothingToRun(initial, settings.config);
    if (idle) {
      const until = options.lifetimeSeconds === undefined ? 'until the minute ends' : 'until the run ends';
      logger[idle.level](`${idle.what}; watching for ${idle.level === 'notice' ? 'one' : 'changes'} ${until}`);
    }
    // What to prepare is judged on the window as it would start now (a --lifetime one starts once this is done).
    const jobs = await testJobs(initial.specs, { logger, clock, deadlineMs: PREPARE_DEADLINE_MS, window: minute ?? windowFor(clock.wallNow(), options.lifetimeSeconds) });
    const window = minute ?? windowFor(clock.wallNow(), options.lifetimeSeconds);
    // Every test's events, whatever its destinations; a journal that cannot be written is one warning.
    const journal = createJournalSink({ stateDir: settings.stateDir, journalDays: settings.journalDays, host: hostname, slot: slotNumber, window, clock, logger,
      ended: () => (!stop.signal.aborted ? 'window end' : stop.signal.reason === 'lock' ? 'slot lost' : stop.signal.reason === 'signal' ? 'signal' : 'stop file') });
    await journal.start();
    const running = createScheduler<TestJob>({
      clock,
      logger,
      hostname,
      phase: settings.phase,
      window,
      planner: planTicks,
      maxInflight: settings.maxInflight,
      emit: (job, event) => {
        router.emit(job.spec.destinations, event);
        summary.record(event);
        journal.record(event);
      },
    });
    scheduler = running;
    if (stop.signal.aborted) {
      // Stopped during set-up: nothing starts.
      running.abort();
      await Promise.all(jobs.map((j) => j.close?.().catch(() => undefined)));
    } else {
      applied = initial.specs;
      jobsByName = new Map(jobs.map((j) => [j.name, j]));
      running.apply(jobs, { catchUp: true });
      config.follow();
    }

    logger.info('run started', {
      slot: slotNumber,
      tests: initial.specs.length,
      window_start: new Date(window.startWall).toISOString(),
      window_end: new Date(window.endWall).toISOString(),
    });

    await running.run();
    stopWatch.close();
    await config.close();
    const flushBy = clock.now() + (stop.signal.aborted ? STOP_FLUSH_DEADLINE_MS : FLUSH_DEADLINE_MS);
    await summary.stop(flushBy);
    await journal.stop(flushBy);
    await router.stop(flushBy);
    return ExitCode.OK;
  }
}

/**
 * How long a copy that found every slot busy may spend counting `agent.skipped` before it exits. As
 * long as the end-of-window flush: fifty copies started at once on two cores each get a few percent
 * of a CPU, and a shorter bound would lose their counters.
 */
export const SKIP_REPORT_DEADLINE_MS = FLUSH_DEADLINE_MS;

/**
 * Counts `agent.skipped` once on every StatsD destination the config names, through the router like
 * any metric, so dashboards show lost minutes. Cheap and bounded: it parses the config but creates
 * no probe, loads the sinks only when the config names StatsD, and gives up after
 * SKIP_REPORT_DEADLINE_MS (a config that cannot be read in time only costs the counter).
 */
async function reportSkipped(load: () => Promise<LoadedTests>, routerOptions: SinkRouterOptions, clock: Clock, logger: Logger): Promise<void> {
  const deadline = clock.now() + SKIP_REPORT_DEADLINE_MS;
  const gaveUp = new AbortController();
  const report = (async () => {
    const statsd = (await load()).specs.flatMap((spec) => spec.destinations.filter((d) => d.kind === 'statsd'));
    if (statsd.length === 0 || gaveUp.signal.aborted) return;
    // The routing core with StatsD alone: neither the Graphite and console sinks nor the run's router are loaded.
    const [{ createRouting }, { createStatsdSink }, { expandPrefix }] = await Promise.all([
      import('../metrics/routing.js'),
      import('../metrics/statsd.js'),
      import('../metrics/names.js'),
    ]);
    const prefix = expandPrefix(routerOptions.statsdPrefix, routerOptions.hostname);
    const tags = { format: routerOptions.statsdTags ?? 'none', hostname: routerOptions.hostname } as const;
    const router = createRouting({
      logger,
      open: (d) => (d.kind === 'statsd' ? createStatsdSink({ destination: d, prefix, tags, logger, clock }) : undefined),
    });
    router.recordAgent(statsd, { name: 'skipped', value: 1 });
    await router.stop(Math.min(deadline, clock.now() + STOP_FLUSH_DEADLINE_MS));
  })();
  const done = report.then(
    () => 'done' as const,
    (err: unknown) => {
      logger.warn('could not count agent.skipped', { error: (err as Error)?.message ?? String(err) });
      return 'done' as const;
    },
  );
  const outcome = await withDeadline(clock, done, deadline - clock.now(), 'late' as const);
  gaveUp.abort();
  if (outcome === 'late') logger.warn('agent.skipped not counted in time', { deadline_ms: SKIP_REPORT_DEADLINE_MS });
}
