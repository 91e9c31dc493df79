/**
 * The shared vocabulary: what a probe returns, the events every sink receives, and the per-test
 * counts a run reports. A leaf: imports nothing of ours. An outcome name or a new kind of sample is
 * spelled here once; the scheduler emits these events, and every sink and `metrics/names.ts` derive
 * their figures and paths from them.
 */

/**
 * Why an execution failed. Probes may add their own lower-case `[a-z0-9_]` reasons; these are
 * the shared ones. `aborted` is set by the scheduler (stop file, signal) and is never a failure.
 */
export type FailureReason =
  | 'timeout'
  | 'refused'
  | 'reset'
  | 'dns'
  | 'tls'
  | 'aborted'
  | 'other'
  | `status_${number}`
  | (string & {});

/** One figure beyond the built-in ones (a custom metric, a step's timing), named under its test. */
export interface Sample {
  /** Dot-separated name under the test, e.g. `cart_items` or `step.login`. */
  name: string;
  /** `counter` values add up, `timing` values (ms) form a distribution, a `gauge` keeps its last value. */
  kind: 'counter' | 'timing' | 'gauge';
  value: number;
}

/** The outcome of one execution: data, never an exception. */
export interface ProbeResult {
  ok: boolean;
  /** Milliseconds from dispatch to completion (or to the failure). */
  latencyMs: number;
  /** Set when `ok` is false. */
  reason?: FailureReason;
  /** Extra figures of this execution, reported under the test beside the built-in ones. */
  samples?: readonly Sample[];
}

/** What a tick can come to, in the order every sink reports them. */
export const OUTCOMES = ['ok', 'failed', 'dropped', 'missed', 'aborted'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The timings every execution carries, in ms: dispatch → completion, and scheduled tick → dispatch. */
export const EXECUTION_TIMINGS = ['latency', 'lag'] as const;

/** The counter of failures for one reason: `failed.<reason>`, the reason one name segment, `unknown` when empty. */
export function failureSampleName(reason: string): string {
  return `failed.${reason.replaceAll('.', '_') || 'unknown'}`;
}

/** The per-test counts of a run, in the order the end-of-run summary gives them. */
export const TEST_COUNTS = ['requested', 'started', ...OUTCOMES] as const;
/** What happened to one test's ticks in a window. */
export type TestCounts = Record<(typeof TEST_COUNTS)[number], number>;

/**
 * First segments of the names the agent reports under a test itself, lower-cased: its counts and
 * timings, Graphite's `count`, the `step` samples of scenarios and built-in types' own figures. A
 * scenario module's own metric names (compared lower-cased) may not be one of them.
 */
export const RESERVED_SAMPLE_NAMES: ReadonlySet<string> = new Set<string>([...TEST_COUNTS, ...EXECUTION_TIMINGS, 'count', 'step', 'days_left']);

/**
 * One thing that happened to a test, as every sink sees it. `tickWallMs` is the wall-clock time of
 * the scheduled tick the event belongs to: interval-based sinks file it there, not at completion.
 */
export type MetricEvent =
  /**
   * Ticks the window owes the test: a plan's ticks when it is made (0 for a paused test), or, when
   * negative, the ticks a stop withdrew before they were due. Counts nothing else.
   */
  | { kind: 'planned'; test: string; tickWallMs: number; ticks: number }
  | {
      kind: 'execution';
      test: string;
      tickWallMs: number;
      ok: boolean;
      /** Set when `ok` is false. */
      reason?: string;
      /** Dispatch → completion, ms. */
      latencyMs: number;
      /** Scheduled tick → dispatch, ms: the generator's own lag. */
      lagMs: number;
      /** The result's own extra figures. */
      samples?: readonly Sample[];
    }
  /** A tick not started because the test already had `concurrency` executions in flight. */
  | { kind: 'dropped'; test: string; tickWallMs: number }
  /** Ticks that could not fit in the window after a late start (catch-up capped at 2x). */
  | { kind: 'missed'; test: string; tickWallMs: number; count: number }
  /** An execution cut short by the stop file or a signal; not a failure. */
  | { kind: 'aborted'; test: string; tickWallMs: number; latencyMs: number };

/** An agent-level counter that belongs to no test, e.g. `skipped` when every lock slot is busy. */
export interface AgentCounter {
  name: string;
  value: number;
}

/** What an event counts as: an outcome and how many ticks. */
export interface Counted {
  readonly outcome: Outcome;
  readonly n: number;
}

/** One tick of each outcome: the common answers of `outcomeOf`, made once (it runs for every event in every sink). */
const ONE: Readonly<Record<Outcome, Counted>> = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, Object.freeze({ outcome, n: 1 })])) as Record<Outcome, Counted>;

/** The outcome an event counts as, and how many; undefined for a `planned` event. */
export function outcomeOf(event: MetricEvent): Counted | undefined {
  switch (event.kind) {
    case 'planned':
      return undefined;
    case 'execution':
      return event.ok ? ONE.ok : ONE.failed;
    case 'missed':
      return { outcome: 'missed', n: event.count };
    case 'dropped':
    case 'aborted':
      return ONE[event.kind];
  }
}

/** An execution event. */
type ExecutionEvent = Extract<MetricEvent, { kind: 'execution' }>;

/** Where each of EXECUTION_TIMINGS is read from an execution event. */
const TIMING_OF: Readonly<Record<(typeof EXECUTION_TIMINGS)[number], (event: ExecutionEvent) => number>> = {
  latency: (event) => event.latencyMs,
  lag: (event) => event.lagMs,
};

/** Receives one figure of an event: see `forEachSample`. */
export type SampleVisitor = (name: string, kind: Sample['kind'], value: number) => void;

/**
 * Calls `visit` with every figure one event stands for, in the order a per-event sink (StatsD) sends
 * them: its outcome counter; for a failure, `failureSampleName(reason)`; for an execution its
 * EXECUTION_TIMINGS, then the result's own samples. Builds nothing: it runs for every event.
 */
export function forEachSample(event: MetricEvent, visit: SampleVisitor): void {
  const counted = outcomeOf(event);
  if (!counted || counted.n <= 0) return;
  visit(counted.outcome, 'counter', counted.n);
  if (event.kind !== 'execution') return;
  if (!event.ok) visit(failureSampleName(event.reason ?? ''), 'counter', 1);
  for (const name of EXECUTION_TIMINGS) visit(name, 'timing', TIMING_OF[name](event));
  if (event.samples) for (const s of event.samples) visit(s.name, s.kind, s.value);
}

/** Every figure one event stands for, as samples, in `forEachSample` order. */
export function eventSamples(event: MetricEvent): Sample[] {
  const samples: Sample[] = [];
  forEachSample(event, (name, kind, value) => samples.push({ name, kind, value }));
  return samples;
}

/**
 * Upper bounds (ms, inclusive) of the latency buckets every sink counts executions into, cumulatively
 * (`latency.le_<ms>`, then `latency.le_inf`): counts that add up across hosts, unlike percentiles.
 * Fixed: dashboards and journal records (their `le` arrays) depend on this list.
 */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const;

/** The names of the cumulative latency counters, one per bound and `le_inf` last: `latency.le_1` … `latency.le_inf`. */
export const LATENCY_BUCKET_NAMES: readonly string[] = [...LATENCY_BOUNDS_MS.map((b) => `latency.le_${b}`), 'latency.le_inf'];

/**
 * The bucket a latency falls in: the index of the first bound it does not exceed (a latency equal to a
 * bound is in that bound's bucket), `LATENCY_BOUNDS_MS.length` above the last one (or NaN). A binary
 * search over the fixed bounds: four comparisons, as it runs for every execution.
 */
export function latencyBucketOf(ms: number): number {
  let lo = 0;
  let hi: number = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Per-bucket counts (`latencyBucketOf` indices) as the cumulative counts sent for `LATENCY_BUCKET_NAMES`. */
export function cumulativeBuckets(perBucket: ArrayLike<number>): number[] {
  const out: number[] = new Array<number>(perBucket.length);
  let sum = 0;
  for (let i = 0; i < perBucket.length; i++) out[i] = sum += perBucket[i]!;
  return out;
}
