import type { ProbeResult } from '../events.js';

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
  /** Builds a probe from validated options. */
  create(options: Options): Probe;
  /**
   * Optional one-time warm-up before the first window starts (compiling a parser, loading modules),
   * so the first tick is not late. Must send nothing to any target, must not throw, and should be
   * quick: the run awaits it once per process.
   */
  prepare?(): Promise<void>;
}

/** One problem with a key=value field. */
export interface ParamIssue {
  field: string;
  message: string;
}
