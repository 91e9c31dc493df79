/** The stop signals, SIGTERM and SIGINT, for whoever stops on them: a run's copy and the daemon. */

/** The signals that ask a copy or the daemon to stop. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Calls `onSignal` with each stop signal received until the returned function removes it. */
export function onStopSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  };
}
