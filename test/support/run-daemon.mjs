// Test helper: runs the compiled daemonCommand in its own process so tests can send it SIGTERM.
// Usage: node run-daemon.mjs CLI_PATH STOP_TIMEOUT_MS [RUN_ARGS...]
// Ticks every second; logs JSON lines (level debug) on stderr; exits with the command's exit code.
import { daemonCommand } from '../../dist/commands/daemon.js';
import { systemClock } from '../../dist/clock.js';
import { createLogger } from '../../dist/log.js';

const [cliPath, stopTimeoutMs, ...runArgs] = process.argv.slice(2);
const logger = createLogger({ level: 'debug', format: 'json' });
process.exitCode = await daemonCommand({
  runArgs,
  logger,
  clock: systemClock,
  schedule: '*/1 * * * * *',
  cliPath,
  stopTimeoutMs: Number(stopTimeoutMs),
});
