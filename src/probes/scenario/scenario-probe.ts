/**
 * One scenario test's probe: setup once (started by `prepare()` or the first execution), every
 * execution a call of the module's default function bounded by the test's timeout, teardown and the
 * release of its connections on `close()`. A module's failure, hang or bad metric is data (a
 * result's reason); nothing the module does makes `execute` reject.
 */
import type { Clock } from '../../clock.js';
import type { ProbeResult } from '../../events.js';
import type { Logger } from '../../log.js';
import { redactSecrets } from '../../redact.js';
import { whenAborted } from '../abort-waiters.js';
import type { Probe, ProbeContext } from '../probe.js';
import { ExecutionContext, HookContext, type ScenarioRuntime } from './context.js';
import { ScenarioHttp, TIMEOUT } from './http-client.js';
import { MetricBook } from './metrics.js';
import type { ScenarioModule, ScenarioOptions } from './scenario-module.js';
import { ScenarioWs } from './ws-client.js';

/** Most distinct failure reasons of a test logged (once each) per run. */
const MAX_LOGGED_REASONS = 20;
/** The abort reason of an execution's signal once it has ended normally: its leftovers stop. */
const ENDED: Error = Object.freeze(new Error('scenario execution ended'));
/** The abort reason of setup's signal when the probe closes. */
const CLOSED: Error = Object.freeze(new Error('scenario test closed'));

type SetupOutcome = { ok: true; data: unknown } | { ok: false };
type Outcome = { ok: true } | { ok: false; error: unknown } | { ok: false; setup: true };

const OK: Outcome = { ok: true };
const SETUP_FAILED: Outcome = { ok: false, setup: true };

/** The first line of an error's message, secrets masked, at most 200 characters: one log field. */
export function errorLine(err: unknown): string {
  const first = redactSecrets(describeThrown(err).split(/\r?\n/, 1)[0] ?? '');
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

/** Whatever a module threw, as text; never throws itself (a null-prototype object, a BigInt, a cycle). */
function describeThrown(err: unknown): string {
  try {
    if (err instanceof Error) return err.message || err.name;
    if (typeof err === 'string') return err;
    return JSON.stringify(err) ?? String(err);
  } catch {
    return `a thrown ${typeof err}`;
  }
}

class ScenarioProbe implements Probe {
  readonly #module: ScenarioModule;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #runtime: ScenarioRuntime;
  readonly #setupController = new AbortController();
  /** Setup's outcome once known (immediately, without a setup). */
  #setupDone: SetupOutcome | undefined;
  #setupStarted: Promise<SetupOutcome> | undefined;
  readonly #loggedReasons = new Set<string>();
  #closing: Promise<void> | undefined;
  /** Prepared or executed at least once: teardown has something to end. */
  #used = false;

  constructor(module: ScenarioModule, options: ScenarioOptions, context: ProbeContext) {
    this.#module = module;
    this.#timeoutMs = options.timeoutMs;
    this.#clock = context.clock;
    this.#logger = context.logger;
    this.#runtime = {
      test: context.test,
      params: Object.freeze({ ...options.params }),
      clock: context.clock,
      http: new ScenarioHttp(context.clock, options.timeoutMs),
      ws: new ScenarioWs(context.clock, options.timeoutMs),
      metrics: new MetricBook(context.logger, context.test, module.file),
    };
    if (!module.setup) this.#setupDone = { ok: true, data: undefined };
  }

  /** Runs setup (once); never rejects. The run bounds how long it waits; executions wait for the rest. */
  async prepare(): Promise<void> {
    this.#used = true;
    await this.#setup();
  }

  #setup(): Promise<SetupOutcome> {
    this.#setupStarted ??= this.#runSetup().then((outcome) => (this.#setupDone = outcome));
    return this.#setupStarted;
  }

  async #runSetup(): Promise<SetupOutcome> {
    const setup = this.#module.setup;
    if (!setup) return { ok: true, data: undefined };
    if (this.#closing) return { ok: false };
    const controller = this.#setupController;
    const ctx = new HookContext(this.#runtime, controller.signal, undefined);
    const result = await this.#bounded(async () => setup(ctx), controller);
    if (result.ok) return { ok: true, data: result.value };
    this.#logger.error('scenario setup failed; every execution of this test fails with reason setup until the run ends', {
      test: this.#runtime.test,
      module: this.#module.file,
      error: result.timedOut ? `setup did not finish within the test's timeout (${this.#timeoutMs} ms)` : errorLine(result.error),
    });
    return { ok: false };
  }

  /**
   * Runs `fn` until it settles, the timeout (which aborts `controller` with TIMEOUT) or `controller`
   * aborting otherwise (the probe closing), whichever is first.
   */
  async #bounded<T>(fn: () => Promise<T>, controller: AbortController): Promise<{ ok: true; value: T } | { ok: false; error: unknown; timedOut: boolean }> {
    let cancelTimer: (() => void) | undefined;
    let stopWaiting: (() => void) | undefined;
    const gaveUp = new Promise<{ ok: false; error: unknown; timedOut: boolean }>((resolve) => {
      const give = () => resolve({ ok: false, error: controller.signal.reason, timedOut: controller.signal.reason === TIMEOUT });
      if (controller.signal.aborted) return give();
      controller.signal.addEventListener('abort', give, { once: true });
      stopWaiting = () => controller.signal.removeEventListener('abort', give);
      cancelTimer = this.#clock.after(this.#timeoutMs, () => controller.abort(TIMEOUT));
    });
    const ran = (async () => {
      try {
        return { ok: true as const, value: await fn() };
      } catch (error) {
        return { ok: false as const, error, timedOut: false };
      }
    })();
    try {
      return await Promise.race([ran, gaveUp]);
    } finally {
      cancelTimer?.();
      stopWaiting?.();
    }
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const clock = this.#clock;
    const started = clock.now();
    if (signal.aborted) return { ok: false, latencyMs: 0, reason: 'aborted' };
    this.#used = true;
    // As in http.ts: the execution ends itself on a stop or at its timeout, whatever the module is
    // doing; the module's signal aborts then, so its requests and sessions end, but a module that
    // ignores it is left to finish (or never finish) on its own, its results no longer counted.
    const controller = new AbortController();
    let stopWaiting!: () => void;
    let cancelTimer!: () => void;
    const gaveUp = new Promise<'aborted' | 'timeout'>((resolve) => {
      stopWaiting = whenAborted(signal, () => {
        controller.abort(signal.reason);
        resolve('aborted');
      });
      cancelTimer = clock.after(this.#timeoutMs, () => {
        controller.abort(TIMEOUT);
        resolve('timeout');
      });
    });
    let ctx: ExecutionContext | undefined;
    try {
      const outcome = await Promise.race([this.#run(controller.signal, (c) => (ctx = c)), gaveUp]);
      const latencyMs = clock.now() - started;
      if (signal.aborted) return { ok: false, latencyMs, reason: 'aborted' };
      if (typeof outcome === 'string') return this.#failed(latencyMs, outcome, ctx, undefined);
      if (!outcome.ok && 'setup' in outcome) return { ok: false, latencyMs, reason: 'setup' };
      if (ctx?.badMetric) return this.#failed(latencyMs, 'bad_metric', ctx, undefined);
      if (!outcome.ok) {
        const reason = controller.signal.reason === TIMEOUT ? 'timeout' : (ctx?.reasonOf(outcome.error) ?? 'other');
        return this.#failed(latencyMs, reason, ctx, outcome.error);
      }
      const samples = ctx?.samples;
      return samples ? { ok: true, latencyMs, samples } : { ok: true, latencyMs };
    } catch (err) {
      // Not reached: every path above is data. Kept so a bug here is a logged failure, not a rejection.
      this.#logger.error('scenario probe failed (a bug)', { test: this.#runtime.test, error: errorLine(err) });
      return { ok: false, latencyMs: clock.now() - started, reason: 'other' };
    } finally {
      cancelTimer();
      stopWaiting();
      if (ctx) ctx.sealed = true;
      if (!controller.signal.aborted) controller.abort(ENDED);
    }
  }

  /** Waits for setup if needed, then runs the module once; never rejects. */
  async #run(signal: AbortSignal, made: (ctx: ExecutionContext) => void): Promise<Outcome> {
    const setup = this.#setupDone ?? (await this.#setup());
    if (!setup.ok) return SETUP_FAILED;
    if (signal.aborted) return { ok: false, error: signal.reason };
    const ctx = new ExecutionContext(this.#runtime, signal, setup.data);
    made(ctx);
    try {
      await this.#module.run(ctx);
      return OK;
    } catch (error) {
      return { ok: false, error };
    }
  }

  #failed(latencyMs: number, reason: string, ctx: ExecutionContext | undefined, error: unknown): ProbeResult {
    if (!this.#loggedReasons.has(reason) && this.#loggedReasons.size < MAX_LOGGED_REASONS) {
      this.#loggedReasons.add(reason);
      this.#logger.info('scenario execution failed (first of this reason in this run)', {
        test: this.#runtime.test,
        module: this.#module.file,
        reason,
        ...(error !== undefined ? { error: errorLine(error) } : {}),
      });
    }
    const samples = ctx?.samples;
    return samples ? { ok: false, latencyMs, reason, samples } : { ok: false, latencyMs, reason };
  }

  /**
   * Ends the test: a setup still running is aborted; teardown runs (bounded by the timeout) when setup
   * succeeded; then setup's signal aborts (sessions it opened close) and the connections are released.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      let setup = this.#setupDone;
      if (!setup && this.#setupStarted) {
        this.#setupController.abort(CLOSED);
        setup = await this.#setupStarted;
      }
      const teardown = this.#module.teardown;
      if (teardown && setup?.ok && this.#used) {
        const controller = new AbortController();
        const ctx = new HookContext(this.#runtime, controller.signal, setup.data);
        const result = await this.#bounded(async () => void (await teardown(ctx)), controller);
        if (!controller.signal.aborted) controller.abort(ENDED);
        if (!result.ok) {
          this.#logger.warn('scenario teardown failed', {
            test: this.#runtime.test,
            module: this.#module.file,
            error: result.timedOut ? `teardown did not finish within the test's timeout (${this.#timeoutMs} ms)` : errorLine(result.error),
          });
        }
      }
      if (!this.#setupController.signal.aborted) this.#setupController.abort(CLOSED);
      this.#runtime.ws.close();
      await this.#runtime.http.close();
    })();
    return this.#closing;
  }
}

/** Builds the probe of one scenario test. */
export function createScenarioProbe(module: ScenarioModule, options: ScenarioOptions, context: ProbeContext): Probe {
  return new ScenarioProbe(module, options, context);
}
