/**
 * The `ctx` a module's functions get: SetupContext for setup (and, with `data`, teardown),
 * ExecutionContext for one execution — its steps, its custom metrics, and what its failure is
 * called. They implement the declarations operators' editors read (types/scenario.d.ts).
 */
import type { HttpClient, ScenarioContext, SetupContext, TeardownContext, WebSocketClient } from '../../../types/scenario.js';
import type { Clock } from '../../clock.js';
import type { Sample } from '../../events.js';
import { ScenarioRequestError, type ScenarioHttp } from './http-client.js';
import { ExecutionSamples, MAX_TIMINGS_PER_EXECUTION, valueProblem, type MetricBook } from './metrics.js';
import type { ScenarioWs } from './ws-client.js';
import { WebSocketError } from '../websocket-session.js';

/** What a failure may be called: the shared reason syntax. */
export const REASON = /^[a-z0-9_]{1,32}$/;

/** What every context of one test shares. */
export interface ScenarioRuntime {
  readonly test: string;
  readonly params: Readonly<Record<string, string>>;
  readonly clock: Clock;
  readonly http: ScenarioHttp;
  readonly ws: ScenarioWs;
  readonly metrics: MetricBook;
}

/** The ctx of setup (`data` undefined) and teardown (`data` what setup returned). */
export class HookContext<Data = unknown> implements SetupContext, TeardownContext<Data> {
  readonly params: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly test: string;
  readonly data: Data;
  readonly #runtime: ScenarioRuntime;

  constructor(runtime: ScenarioRuntime, signal: AbortSignal, data: Data) {
    this.#runtime = runtime;
    this.params = runtime.params;
    this.signal = signal;
    this.test = runtime.test;
    this.data = data;
  }

  get http(): HttpClient {
    return this.#runtime.http.client(this.signal);
  }

  get ws(): WebSocketClient {
    return this.#runtime.ws.client(this.signal);
  }
}

/** The ctx of one execution, and what it recorded. */
export class ExecutionContext<Data = unknown> implements ScenarioContext<Data> {
  readonly params: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly test: string;
  readonly data: Data;
  readonly #runtime: ScenarioRuntime;
  #http: HttpClient | undefined;
  #samples: ExecutionSamples | undefined;
  /** Reasons given to thrown values by the innermost step they escaped. */
  #stepReasons: Map<unknown, string> | undefined;
  /** Set by a refused metric: the execution fails `bad_metric`. */
  badMetric = false;
  /** Set when the execution has ended: later metrics are ignored. */
  sealed = false;

  constructor(runtime: ScenarioRuntime, signal: AbortSignal, data: Data) {
    this.#runtime = runtime;
    this.params = runtime.params;
    this.signal = signal;
    this.test = runtime.test;
    this.data = data;
  }

  get http(): HttpClient {
    return (this.#http ??= this.#runtime.http.client(this.signal));
  }

  get ws(): WebSocketClient {
    return this.#runtime.ws.client(this.signal);
  }

  /** The samples recorded, or undefined when none. */
  get samples(): readonly Sample[] | undefined {
    const list = this.#samples?.list;
    return list && list.length > 0 ? list : undefined;
  }

  async step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const runtime = this.#runtime;
    const problem = runtime.metrics.check(name, 'step');
    if (problem) this.#refuse(name, problem);
    if (typeof fn !== 'function') {
      throw new TypeError(`ctx.step(${JSON.stringify(String(name).slice(0, 64))}, fn): fn must be a function`);
    }
    const started = runtime.clock.now();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      if (!problem) this.#stepEnded(name, started, 'failed');
      if (!problem && !this.#stepReasons?.has(err) && operatorReason(err) === undefined) {
        (this.#stepReasons ??= new Map()).set(err, `step_${name.toLowerCase()}`.slice(0, 32));
      }
      throw err;
    }
    if (!problem) this.#stepEnded(name, started, 'ok');
    return value;
  }

  #stepEnded(name: string, started: number, outcome: 'ok' | 'failed'): void {
    if (this.sealed) return;
    const samples = (this.#samples ??= new ExecutionSamples());
    if (!samples.timing(`step.${name}`, this.#runtime.clock.now() - started)) this.#tooManyTimings(`step.${name}`);
    samples.merge(`step.${name}.${outcome}`, 'counter', 1);
  }

  count(name: string, n: number = 1): void {
    this.#record(name, 'counter', n);
  }

  timing(name: string, ms: number): void {
    this.#record(name, 'timing', ms);
  }

  gauge(name: string, value: number): void {
    this.#record(name, 'gauge', value);
  }

  #record(name: string, kind: Sample['kind'], value: number): void {
    if (this.sealed) return;
    const problem = this.#runtime.metrics.check(name, kind) ?? valueProblem(kind, value);
    if (problem) return this.#refuse(name, problem);
    const samples = (this.#samples ??= new ExecutionSamples());
    if (kind === 'timing') {
      if (!samples.timing(name, value)) this.#tooManyTimings(name);
    } else samples.merge(name, kind, value);
  }

  #tooManyTimings(name: string): void {
    this.#refuse(`(timings of one execution)`, `more than ${MAX_TIMINGS_PER_EXECUTION} timings in one execution; ${JSON.stringify(name)} dropped`);
  }

  #refuse(name: unknown, problem: string): void {
    if (this.sealed) return;
    this.badMetric = true;
    this.#runtime.metrics.refused(name, problem);
  }

  /** What a thrown value makes of the execution's failure. */
  reasonOf(err: unknown): string {
    const fromStep = this.#stepReasons?.get(err);
    if (fromStep !== undefined) return fromStep;
    const own = operatorReason(err) ?? runtimeReason(err);
    return own ?? 'other';
  }
}

/** A valid `reason` an error of the module's own carries (`aborted` is the run's word, never a module's). */
export function operatorReason(err: unknown): string | undefined {
  if (err instanceof ScenarioRequestError || err instanceof WebSocketError) return undefined;
  return validReason(err);
}

/** The reason of a failed `ctx.http` or `ctx.ws` call. */
function runtimeReason(err: unknown): string | undefined {
  if (err instanceof ScenarioRequestError || err instanceof WebSocketError) return validReason(err);
  return undefined;
}

function validReason(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('reason' in err)) return undefined;
  const reason = (err).reason;
  return typeof reason === 'string' && REASON.test(reason) && reason !== 'aborted' ? reason : undefined;
}
