/**
 * What the scheduler runs: a job (the Face wires a test's probe into one) and the planner that
 * places its ticks. The contract between the Face and the Schedule room.
 */
import type { ProbeResult } from '../events.js';
import type { Plan, PlanInput } from './plan.js';
import type { LoadShape } from './shape.js';

/**
 * One thing to run at a frequency: what the scheduler knows of a test. The scheduler owns every job
 * object handed to `apply` and calls its `close` exactly once.
 */
export interface Job {
  /** Changes whenever anything about how the job runs changes; a job re-applied under the same name and key is left running. */
  readonly key: string;
  /** Unique among the jobs applied together; names every event (the test name). */
  readonly name: string;
  /** Executions per minute (a shaped job's peak); 0 means paused. */
  readonly frequency: number;
  /** The load shape (plain data, shape.ts), planned by shape-plan.ts; absent: a flat `frequency`. */
  readonly shape?: LoadShape;
  /** Most executions of this job in flight at once; a tick beyond it is dropped and counted. */
  readonly concurrency: number;
  /** How long `execute` may take by its own timeout, ms; one still open HUNG_GRACE_MS later is settled as a timeout. */
  readonly timeoutMs: number;
  /** Runs one execution; must resolve (never reject) and honour `signal`, which aborts on a stop. */
  execute(signal: AbortSignal): Promise<ProbeResult>;
  /**
   * Releases what the job holds, once the scheduler is done with it (removed, replaced, the window
   * ended, or not taken) and none of its executions is in flight.
   */
  close?(): Promise<void>;
}

/** Plans one job's ticks in a window (see plan.ts: `planTicks`). */
export type Planner = (input: PlanInput) => Plan;
