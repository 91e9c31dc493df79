/**
 * A scenario's own figures: the names one test has used (checked once, kind fixed, at most
 * MAX_METRIC_NAMES), and each execution's samples (counters and gauges merged by name, timings
 * capped), so a module that loops on `ctx.count` cannot grow memory without bound.
 */
import { RESERVED_SAMPLE_NAMES, type Sample } from '../../events.js';
import type { Logger } from '../../log.js';
import { quoteValue } from '../../redact.js';

/** What a module's metric and step names may be. */
export const METRIC_NAME = /^[A-Za-z0-9_]{1,64}$/;
/** Most distinct metric names (steps included) one test may use in a run. */
export const MAX_METRIC_NAMES = 100;
/** Most timing samples one execution may record (steps included). */
export const MAX_TIMINGS_PER_EXECUTION = 1_000;
/** Most distinct refused names logged per test and run; the rest are counted as `bad_metric` silently. */
const MAX_LOGGED_BAD_NAMES = 10;

type Kind = Sample['kind'] | 'step';

/** The metric names of one test in one run, and the refused ones already logged. */
export class MetricBook {
  readonly #kinds = new Map<string, Kind>();
  readonly #logged = new Set<string>();
  readonly #logger: Logger;
  readonly #where: { test: string; module: string };

  constructor(logger: Logger, test: string, module: string) {
    this.#logger = logger;
    this.#where = { test, module };
  }

  /** Why `name` cannot be used as a `kind` (undefined when it can); a new good name is remembered. */
  check(name: unknown, kind: Kind): string | undefined {
    if (typeof name !== 'string') return `a metric name must be a string, got ${typeof name}`;
    const known = this.#kinds.get(name);
    if (known === kind) return undefined;
    if (known !== undefined) return `${quoteValue(name)} is already a ${known} in this test; use another name`;
    if (!METRIC_NAME.test(name)) return `${quoteValue(name, 70)} is not a metric name: use 1 to 64 of A-Z a-z 0-9 _`;
    if (RESERVED_SAMPLE_NAMES.has(name.toLowerCase())) {
      return `${quoteValue(name)} is a name the agent reports itself (${[...RESERVED_SAMPLE_NAMES].join(', ')}); use another name`;
    }
    if (this.#kinds.size >= MAX_METRIC_NAMES) return `more than ${MAX_METRIC_NAMES} distinct metric names in this test; ${quoteValue(name)} refused`;
    this.#kinds.set(name, kind);
    return undefined;
  }

  /** Logs a refused metric once per distinct name (at most MAX_LOGGED_BAD_NAMES per run). */
  refused(name: unknown, problem: string): void {
    const key = typeof name === 'string' ? name.slice(0, 100) : `(${typeof name})`;
    if (this.#logged.has(key) || this.#logged.size >= MAX_LOGGED_BAD_NAMES) return;
    this.#logged.add(key);
    const more = this.#logged.size === MAX_LOGGED_BAD_NAMES ? '; further refused names of this test are not logged' : '';
    this.#logger.warn(`scenario metric refused, execution counted as failed.bad_metric${more}`, { ...this.#where, problem });
  }
}

/** The samples of one execution. */
export class ExecutionSamples {
  readonly list: Sample[] = [];
  /** Counters and gauges by name, merged into one sample each. */
  #byName: Map<string, Sample> | undefined;
  #timings = 0;

  /** Adds a counter's `n` or sets a gauge. */
  merge(name: string, kind: 'counter' | 'gauge', value: number): void {
    this.#byName ??= new Map();
    const sample = this.#byName.get(name);
    if (sample) sample.value = kind === 'counter' ? sample.value + value : value;
    else {
      const added: Sample = { name, kind, value };
      this.#byName.set(name, added);
      this.list.push(added);
    }
  }

  /** Adds a timing; false when the execution already has MAX_TIMINGS_PER_EXECUTION. */
  timing(name: string, ms: number): boolean {
    if (this.#timings >= MAX_TIMINGS_PER_EXECUTION) return false;
    this.#timings++;
    this.list.push({ name, kind: 'timing', value: ms });
    return true;
  }
}

/** Why `value` cannot be recorded as `kind`, or undefined. */
export function valueProblem(kind: Sample['kind'], value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `a ${kind} value must be a finite number, got ${typeof value === 'number' ? String(value) : typeof value}`;
  if (kind === 'timing' && value < 0) return `a timing must be at least 0 ms, got ${value}`;
  if (kind === 'gauge' && value < 0) return `a gauge must be at least 0 (StatsD reads a negative gauge as a decrement), got ${value}`;
  return undefined;
}
