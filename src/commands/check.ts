import type { Clock } from '../clock.js';
import { loadTests } from '../config/load-tests.js';
import { formatLineError } from '../config/tests-file.js';
import type { Settings } from '../config/settings.js';
import { startWatchdog, type Watchdog } from '../control/watchdog.js';
import { ExitCode } from '../errors.js';
import { builtinProbeRegistry } from '../probes/registry.js';

/** What `check` needs. */
export interface CheckOptions {
  settings: Settings;
  /** Problems already found in the settings file (reported first, with the same format). */
  settingsProblems: string[];
  out: (line: string) => void;
  err: (line: string) => void;
  /** Times each scenario module's import deadline. */
  clock: Clock;
}

/**
 * Validates the tests config without running anything: every problem on its own line as
 * `FILE:LINE: field: reason`. Exit 0 clean, 1 problems, 2 unreadable or refused (not a regular
 * file, strict_modes) — the whole config, or any `*.conf` of a config directory. Scenario modules
 * the lines name are imported as a run would import them, so a broken or refused module is a
 * problem of each line naming it (exit 1), caught by Puppet's `validate_cmd` before it ships. A
 * load shape that has ended is valid, and said as a warning on stdout (exit unchanged).
 */
export async function checkCommand(options: CheckOptions): Promise<ExitCode> {
  const { settings, out, err, clock } = options;
  // A module whose import never yields would hang validate_cmd, and Puppet with it: the watchdog
  // (started before the first module's code runs) ends such a check.
  let watchdog: Watchdog | undefined;
  const beforeImport = () => {
    watchdog ??= startWatchdog({ clock, blockedLimitMs: settings.blockedLimitSeconds * 1_000, logFormat: settings.logFormat });
  };
  const loaded = await loadTests(settings.config, {
    maxFrequency: settings.maxFrequency,
    maxTotalRate: settings.maxTotalRate,
    strictModes: settings.strictModes,
    destinationDefaults: settings.destinationDefaults,
    probeTypes: builtinProbeRegistry({ typesDir: settings.typesDir, strictModes: settings.strictModes, clock, beforeImport }),
  }).finally(() => watchdog?.stop());
  for (const p of options.settingsProblems) err(p);
  if (loaded.status === 'missing') {
    err(`${settings.config}: no such file or directory`);
    return ExitCode.UNREADABLE;
  }
  if (loaded.status === 'unreadable') {
    err(loaded.message);
    return ExitCode.UNREADABLE;
  }
  for (const e of loaded.errors) err(formatLineError(e));
  // Valid but idle for good: a shape whose end has passed (Puppet may have shipped it late).
  const now = clock.wallNow();
  for (const spec of loaded.specs) {
    const end = spec.shape?.end;
    if (end !== undefined && end <= now) out(`${spec.file}:${spec.line}: end: warning: ended at ${new Date(end).toISOString()}; this test sends nothing`);
  }
  const problems = loaded.errors.length + options.settingsProblems.length;
  const tests = loaded.specs.length;
  out(
    problems === 0
      ? `ok: ${tests} test${tests === 1 ? '' : 's'} in ${loaded.files.length} file${loaded.files.length === 1 ? '' : 's'}`
      : `${problems} problem${problems === 1 ? '' : 's'}; ${tests} valid test${tests === 1 ? '' : 's'}`,
  );
  if (loaded.unreadableFiles.length > 0) return ExitCode.UNREADABLE;
  return problems === 0 ? ExitCode.OK : ExitCode.INVALID;
}
