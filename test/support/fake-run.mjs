// Test helper: stands in for `canihaz run` under the daemon. Appends JSON lines to $FAKE_RUN_LOG:
// {"pid","event":"start","args"} when it starts, {"pid","event":"sigterm"} when it gets SIGTERM.
// $FAKE_RUN_MODE: "sleep" (default; waits, exits 0 200 ms after SIGTERM), "crash" (exits 3 at once),
// "stubborn" (ignores SIGTERM; only SIGKILL ends it).
import { appendFileSync } from 'node:fs';

const log = (event, extra = {}) =>
  appendFileSync(process.env.FAKE_RUN_LOG, JSON.stringify({ pid: process.pid, event, at: Date.now(), ...extra }) + '\n');
const mode = process.env.FAKE_RUN_MODE ?? 'sleep';

log('start', { args: process.argv.slice(2) });
if (mode === 'crash') process.exit(3);
process.on('SIGTERM', () => {
  log('sigterm');
  // Linger a little so that a duplicate SIGTERM would be seen (and logged).
  if (mode !== 'stubborn') setTimeout(() => process.exit(0), 200);
});
setInterval(() => {}, 60_000);
