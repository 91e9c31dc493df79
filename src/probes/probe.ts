import type { Clock } from '../clock.js';
import type { ProbeResult } from '../events.js';
import type { Logger } from '../log.js';

/** One configured test's way of executing once; created once per test, reused for every tick. */
export interface Probe {
  /**
   * Runs one execution. Must resolve (never reject) with a result; must honour `signal`, which
   * aborts when the run is stopped (the result's reason is then `aborted`).
   */
  execute(signal: AbortSignal): Promise<ProbeResult>;
  /** Releases connections and other resources; called once when the test is removed or the run ends. */
  close(): Promise<void>;
  /**
   * Optional: opens what the first execution would otherwise open (a connection), so the first tick
   * lands on time. Sends no request; never rejects; the run bounds how long it waits.
   */
  prepare?(): Promise<void>;
}

/** The key=value fields of a config line: each key with every value it was given, in order. */
export type ProbeParams = ReadonlyMap<string, readonly string[]>;

/** What the registry knows about one probe type: how to validate its fields and build it. */
export interface ProbeType<Options = unknown> {
  /** The `test_type` word in the config. */
  readonly name: string;
  /** Default cap on executions of one test in flight at once, when the line sets no `concurrency`. */
  readonly defaultConcurrency: number;
  /**
   * Validates the line's key=value fields. Returns the options or every problem found, each naming
   * the field (the key) it is about.
   */
  parse(params: ProbeParams): { ok: true; options: Options; timeoutMs: number } | { ok: false; issues: ParamIssue[] };
  /** Builds a probe from validated options, with what the run gives every probe. */
  create(options: Options, context: ProbeContext): Probe;
  /**
   * Optional one-time warm-up before the first window starts (compiling a parser, loading modules),
   * so the first tick is not late. Must send nothing to any target, must not throw, and should be
   * quick: the run awaits it once per process.
   */
  prepare?(context: Pick<ProbeContext, 'clock' | 'logger'>): Promise<void>;
}

/**
 * What the run hands every probe it creates: the one Clock that times executions (latency, the
 * probe's own timeout), so a probe's timing paths run on a fake clock in tests, and the logger (for
 * debug detail such as a TLS verification code; a probe never reports metrics).
 */
export interface ProbeContext {
  clock: Clock;
  logger: Logger;
  /** The test this probe serves (its line's name), for log lines and per-test resources. */
  test: string;
}

/** One problem with a key=value field. */
export interface ParamIssue {
  field: string;
  message: string;
}
