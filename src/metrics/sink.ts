import type { AgentCounter, MetricEvent } from '../events.js';

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
