/**
 * An etsy statsd backend for the end-to-end tests: on every flush it sends statsd's own aggregates
 * (counters, and for each timer its count, sum, mean, lower and upper) to the parent process over the
 * IPC channel that test/support/real-servers.ts opens. statsd loads it by absolute path from `backends`.
 */
'use strict';

exports.init = function init(_startupTime, _config, events) {
  // The test process went away without stopping us: do not outlive it.
  process.on('disconnect', () => process.exit(0));
  events.on('flush', (timestamp, metrics) => {
    if (!process.send) return;
    const timers = {};
    for (const [name, data] of Object.entries(metrics.timer_data ?? {})) {
      timers[name] = { count: data.count, sum: data.sum, mean: data.mean, lower: data.lower, upper: data.upper };
    }
    process.send({ kind: 'flush', timestamp, counters: metrics.counters, timers });
  });
  return true;
};
