/**
 * One thing that happened to a test, as every sink sees it. `tickWallMs` is the wall-clock time of
 * the scheduled tick the event belongs to: interval-based sinks file it there, not at completion.
 */
export type MetricEvent =
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

/**
 * Where results go. k6's output shape: `start`, then non-blocking `record` calls, then `stop`, which
 * flushes within its deadline and never throws.
 */
export interface MetricSink {
  /** Human-readable destination, for logs (`statsd://127.0.0.1:8125`). */
  readonly name: string;
  /** Opens connections, starts interval timers. Must not throw on an unreachable server. */
  start(): Promise<void>;
  /** Takes one event. Must not block or throw. */
  record(event: MetricEvent): void;
  /** Takes one agent-level counter. Must not block or throw. */
  recordAgent(counter: AgentCounter): void;
  /** Flushes what is pending and closes, giving up at `deadlineMonoMs` (the clock's monotonic ms). */
  stop(deadlineMonoMs: number): Promise<void>;
}
