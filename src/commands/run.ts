import type { Clock } from '../clock.js';
import { destinationKey, type Destination } from '../config/destination.js';
import type { Settings } from '../config/settings.js';
import type { LoadedTests, TestSpec } from '../config/tests-file.js';
import { acquireSlot } from '../control/lock-slots.js';
import { stopFileExists, watchStopFile } from '../control/stop-file.js';
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Probe } from '../probes/probe.js';
import type { SinkRouterOptions } from '../metrics/router.js';
import { windowFor } from '../schedule/plan.js';
import type { Scheduler } from '../schedule/scheduler.js';

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

/**
 * Runs every configured test for one window: stop file first, then a lock slot, then the tests,
 * following config changes live, until the window ends or a stop is asked for.
 */
export async function runCommand(options: RunOptions): Promise<ExitCode> {
  const { settings, clock, logger, hostname } = options;
  // The minute is fixed the moment the run starts (set-up must not push it into the next minute,
  // which belongs to the next copy); a --lifetime window starts once set-up is done.
  const minute = options.lifetimeSeconds === undefined ? monoWindow(clock) : undefined;
  const load = async () => {
    const { loadTests } = await import('../config/tests-file.js');
    return loadTests(settings.config, {
      maxFrequency: settings.maxFrequency,
      maxTotalRate: settings.maxTotalRate,
      strictModes: settings.strictModes,
      destinationDefaults: settings.destinationDefaults,
    });
  };
  const routerOptions: SinkRouterOptions = {
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
    await reportSkipped(load, routerOptions, clock, logger);
    return ExitCode.OK;
  }
  try {
    return await runWindow(slot.slot);
  } finally {
    await slot.release();
  }

  async function runWindow(slotNumber: number): Promise<ExitCode> {
    const [{ formatLineError }, { watchConfig }, { createSinkRouter }, { createScheduler }] = await Promise.all([
      import('../config/tests-file.js'),
      import('../control/watch.js'),
      import('../metrics/router.js'),
      import('../schedule/scheduler.js'),
    ]);
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
    // What the scheduler was last given: an unreadable config (or *.conf of a directory) keeps its share.
    let applied: readonly TestSpec[] = [];
    const report = (loaded: LoadedTests) => {
      const keeping = applied.length > 0 ? `; keeping the ${applied.length} test${applied.length === 1 ? '' : 's'} already running` : '';
      const lines =
        loaded.status === 'unreadable'
          ? [`cannot read config: ${loaded.message}${keeping}`]
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
          // An unreadable config keeps what runs, and so does an unreadable *.conf of a directory (its
          // tests only); a missing one stops everything.
          if (loaded.status === 'unreadable') continue;
          const names = new Set(loaded.specs.map((s) => s.name));
          const kept = loaded.status === 'ok' ? applied.filter((s) => loaded.unreadableFiles.includes(s.file) && !names.has(s.name)) : [];
          applied = [...loaded.specs, ...kept];
          // A probe type first seen mid-run loads (and warms) here, before its tests are planned:
          // loading undici blocks the event loop for tens of ms, and ticks planned before it would
          // all fire at once after it.
          await warmUpTypes(loaded.specs);
          if (stop.signal.aborted) break;
          target.apply(applied, { catchUp: false });
        } while (again && !stop.signal.aborted);
      })().finally(() => (reloading = undefined));
    };

    // Watch first, then read: a change made after the read is never missed.
    const configWatch = await watchConfig({ path: settings.config, logger, onChange: reload });
    const initial = await load();
    report(initial);
    const idle = nothingToRun(initial, settings.config);
    if (idle) {
      const until = options.lifetimeSeconds === undefined ? 'until the minute ends' : 'until the run ends';
      logger[idle.level](`${idle.what}; watching for ${idle.level === 'notice' ? 'one' : 'changes'} ${until}`);
    }
    const prepared = await prepareProbes(initial.specs, logger);
    const window = minute ?? monoWindow(clock, options.lifetimeSeconds);
    const running = createScheduler({
      clock,
      logger,
      hostname,
      phase: settings.phase,
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
      applied = initial.specs;
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

/**
 * Why a run starts with nothing to do, when it is not a problem already logged (an unreadable
 * config, invalid lines): no tests file (or no `*.conf` in a config directory) is said at `notice`,
 * once per run, so an operator waiting for the first test sees the agent is alive and where it
 * looks; a config with no test lines on purpose (comments only) only at `info`.
 */
function nothingToRun(loaded: LoadedTests, config: string): { level: 'notice' | 'info'; what: string } | undefined {
  if (loaded.status === 'missing') return { level: 'notice', what: `no tests file at ${config}` };
  if (loaded.status !== 'ok' || loaded.specs.length > 0 || loaded.errors.length > 0) return undefined;
  // A file config that reads ok is its one file; no file read means a directory without *.conf.
  if (loaded.files.length === 0) return { level: 'notice', what: `no *.conf files in ${config}` };
  return { level: 'info', what: `no tests in ${config}` };
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

/** How long a mid-run reload waits for a newly seen probe type to warm up. */
export const RELOAD_WARM_UP_DEADLINE_MS = 250;

/**
 * Warms the probe types of running specs (each type's `prepare` runs once per process), bounded by
 * RELOAD_WARM_UP_DEADLINE_MS; a slow warm-up only means the first ticks may be a little late.
 */
async function warmUpTypes(specs: readonly TestSpec[]): Promise<void> {
  const types = [...new Set(specs.filter((s) => s.frequency > 0).map((s) => s.probeType))];
  if (types.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(types.map((t) => t.prepare?.().catch(() => undefined))),
    new Promise((resolve) => (timer = setTimeout(resolve, RELOAD_WARM_UP_DEADLINE_MS))),
  ]);
  clearTimeout(timer);
}

/**
 * How long a copy that found every slot busy may spend counting `agent.skipped` before it exits. As
 * long as the end-of-window flush: fifty copies started at once on two cores each get a few percent
 * of a CPU, and a shorter bound would lose their counters.
 */
export const SKIP_REPORT_DEADLINE_MS = FLUSH_DEADLINE_MS;

/**
 * Counts `agent.skipped` on every StatsD destination the config names, so dashboards show lost
 * minutes. Cheap and bounded: it parses the config but creates no probe, loads only the StatsD sink
 * (and only when the config names StatsD), and gives up after SKIP_REPORT_DEADLINE_MS (a config that
 * cannot be read in time only costs the counter).
 */
async function reportSkipped(load: () => Promise<LoadedTests>, sinkOptions: SinkRouterOptions, clock: Clock, logger: Logger): Promise<void> {
  const deadline = clock.now() + SKIP_REPORT_DEADLINE_MS;
  const gaveUp = new AbortController();
  const report = (async () => {
    const statsd = statsdDestinations(await load());
    if (statsd.length === 0 || gaveUp.signal.aborted) return;
    const [{ createStatsdSink }, { expandPrefix }] = await Promise.all([import('../metrics/statsd.js'), import('../metrics/names.js')]);
    const prefix = expandPrefix(sinkOptions.statsdPrefix, sinkOptions.hostname);
    const sinks = statsd.map((destination) => createStatsdSink({ destination, prefix, logger, clock }));
    for (const sink of sinks) {
      sink.start().catch((err: unknown) => logger.warn('metrics destination failed to start', { destination: sink.name, error: String(err) }));
      sink.recordAgent({ name: 'skipped', value: 1 });
    }
    const flushBy = Math.min(deadline, clock.now() + STOP_FLUSH_DEADLINE_MS);
    await Promise.all(sinks.map((sink) => sink.stop(flushBy).catch(() => undefined)));
  })();
  const outcome = await Promise.race([
    report.then(
      () => 'done' as const,
      (err: unknown) => {
        logger.warn('could not count agent.skipped', { error: (err as Error)?.message ?? String(err) });
        return 'done' as const;
      },
    ),
    clock.sleepUntil(deadline, gaveUp.signal).then(() => 'late' as const),
  ]);
  gaveUp.abort();
  if (outcome === 'late') logger.warn('agent.skipped not counted in time', { deadline_ms: SKIP_REPORT_DEADLINE_MS });
}

/** The distinct StatsD destinations the config's valid lines name. */
function statsdDestinations(loaded: LoadedTests): Extract<Destination, { kind: 'statsd' }>[] {
  const seen = new Set<string>();
  const statsd: Extract<Destination, { kind: 'statsd' }>[] = [];
  for (const spec of loaded.specs) {
    for (const d of spec.destinations) {
      if (d.kind !== 'statsd') continue;
      const key = destinationKey(d);
      if (seen.has(key)) continue;
      seen.add(key);
      statsd.push(d);
    }
  }
  return statsd;
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
