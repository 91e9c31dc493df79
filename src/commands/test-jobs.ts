/**
 * Tests as the scheduler runs them: each test's probe, created and prepared here — the one place,
 * for the tests read at start-up and for those a reload adds or changes.
 */
import { withDeadline, type Clock } from '../clock.js';
import type { TestSpec } from '../config/tests-file.js';
import type { Logger } from '../log.js';
import type { Job } from '../schedule/scheduler.js';
import { loadAt } from '../schedule/shape.js';

/** A test as a job: its spec's figures, its probe's `execute` and `close`. */
export interface TestJob extends Job {
  readonly spec: TestSpec;
}

export interface TestJobsOptions {
  logger: Logger;
  /** Times the deadline. */
  clock: Clock;
  /** How long warming probe types and preparing new probes may take, ms; past it the jobs are returned as they are. */
  deadlineMs: number;
  /** Jobs running now, by test name: one whose spec has not changed (same fingerprint) is returned as it is. */
  running?: ReadonlyMap<string, TestJob>;
  /**
   * The part of the window the jobs will run in, wall-clock epoch ms: a shaped test that owes it
   * nothing (a start still to come, an end passed) is not prepared. Absent: every running test is.
   */
  window?: { startWall: number; endWall: number };
}

/** Whether `spec` has ticks to fire in `window`: a running rate, and for a shape some load owed inside the window. */
function runsIn(spec: TestSpec, window: TestJobsOptions['window']): boolean {
  if (!(spec.frequency > 0)) return false;
  if (!spec.shape || !window) return true;
  return loadAt(spec.shape, window.endWall) > loadAt(spec.shape, window.startWall);
}

/**
 * The jobs of `specs`. Each probe type of a running test warms up (once per process), then each new
 * job's probe is created and, when its test runs (frequency > 0; a shaped test only when the window
 * owes it load), prepared (its first connection opened), so its first ticks land on time; all
 * bounded by `deadlineMs`: a slow or unreachable target only means its first execution connects as
 * usual. A probe that cannot be created is logged and its test left out.
 */
export async function testJobs(specs: readonly TestSpec[], options: TestJobsOptions): Promise<TestJob[]> {
  const { logger, running, clock } = options;
  const deadlineMono = clock.now() + options.deadlineMs;
  const active = new Set(specs.filter((s) => runsIn(s, options.window)));
  const types = [...new Set([...active].map((s) => s.probeType))];
  // A type first seen warms up (once per process) before its jobs are returned: warming blocks the
  // event loop for a while, and ticks planned before it would all fire at once after. Its probes are
  // created and open their first connections meanwhile: both wait on sockets, so they overlap.
  const warming = Promise.all(types.map((t) => t.prepare?.({ clock, logger }).catch(() => undefined)));
  const jobs: TestJob[] = [];
  const fresh: PreparableJob[] = [];
  for (const spec of specs) {
    const current = running?.get(spec.name);
    if (current && current.key === spec.fingerprint) {
      jobs.push(current);
      continue;
    }
    const job = createTestJob(spec, logger, clock);
    if (!job) continue;
    jobs.push(job);
    if (active.has(spec)) fresh.push(job);
  }
  await withDeadline(clock, Promise.all([warming, ...fresh.map((job) => job.prepare())]), deadlineMono - clock.now());
  return jobs;
}

type PreparableJob = TestJob & { prepare(): Promise<void> };

/** A job for `spec` around a new probe, or undefined (logged) when the probe cannot be created. */
function createTestJob(spec: TestSpec, logger: Logger, clock: Clock): PreparableJob | undefined {
  try {
    const probe = spec.probeType.create(spec.options, { clock, logger, test: spec.name });
    return {
      spec,
      key: spec.fingerprint,
      name: spec.name,
      frequency: spec.frequency,
      ...(spec.shape && { shape: spec.shape }),
      concurrency: spec.concurrency,
      timeoutMs: spec.timeoutMs,
      execute: (signal) => probe.execute(signal),
      close: () => probe.close(),
      prepare: async () => {
        try {
          await probe.prepare?.();
        } catch (err) {
          logger.debug('probe not prepared', { test: spec.name, error: String(err) });
        }
      },
    };
  } catch (err) {
    logger.error('could not create probe', { test: spec.name, file: spec.file, line: spec.line, error: String(err) });
    return undefined;
  }
}
