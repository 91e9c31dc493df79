/** What a scenario module's checked exports are, and a scenario test's options: plain shapes both sides share. */
import type { ParamSpec, ScenarioFunction, SetupFunction, TeardownFunction } from '../../../types/scenario.js';

/** A module's exports, checked (scenario-type.ts). */
export interface ScenarioModule {
  /** The `test_type` word: the module's file name without `.mjs`. */
  name: string;
  /** The module's file, for log lines. */
  file: string;
  run: ScenarioFunction;
  params: Readonly<Record<string, ParamSpec>>;
  setup: SetupFunction | undefined;
  teardown: TeardownFunction | undefined;
}

/** Validated options of one scenario test: plain data, so two lines' options can be compared. */
export interface ScenarioOptions {
  /** The line's values of the module's keys, defaults applied; keys without value or default are absent. */
  params: Readonly<Record<string, string>>;
  /** Bounds one execution (and setup, and teardown), ms. */
  timeoutMs: number;
}
