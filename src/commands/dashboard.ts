import { getPriority, setPriority } from 'node:os';
import { resolve } from 'node:path';
import type { Clock } from '../clock.js';
import { createReportSource } from '../dashboard/report-source.js';
import { isLoopback, startDashboardServer } from '../dashboard/server.js';
import { CanihazError, ExitCode } from '../errors.js';
import { journalDir } from '../journal/records.js';
import type { Logger } from '../log.js';

/** What `dashboard` needs. */
export interface DashboardOptions {
  /** The `state_dir` setting: the journal is `<stateDir>/journal`. */
  stateDir: string;
  /** Where to listen (port 0: any free port). */
  listen: { host: string; port: number };
  logger: Logger;
  /** Aborts on SIGTERM or SIGINT: the server closes and the command returns. */
  stopSignal: AbortSignal;
  clock: Clock;
}

/** The dashboard's scheduling priority (nice): below the runs of the agent on the same host. */
const NICE = 10;

/** Why a listen address cannot be had, in words. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another dashboard, or another program, listens there); choose another port with --listen',
  EADDRNOTAVAIL: "address not available: it is not one of this host's addresses",
  EACCES: 'permission denied (a port below 1024 needs privileges); choose a port of 1024 or more',
};

/**
 * Serves the read-only dashboard over this host's journal until `stopSignal` aborts; exit 0. A listen
 * address that cannot be had is a CanihazError `E_UNAVAILABLE` (exit 69) naming it and why. A
 * non-loopback address is served, with a warning: the page and its API have no authentication.
 */
export async function dashboardCommand(options: DashboardOptions): Promise<ExitCode> {
  const { listen, logger, clock, stopSignal } = options;
  const dir = resolve(journalDir(options.stateDir));
  const shown = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
  if (!isLoopback(listen.host)) {
    logger.warn("dashboard listens on a non-loopback address: anyone who can reach it can read this host's results (no authentication)", { listen: shown });
  }
  if (stopSignal.aborted) return ExitCode.OK;
  // Reading a week of journal is seconds of CPU: yield it to the runs this host exists for.
  try {
    if (getPriority() < NICE) setPriority(NICE);
  } catch {
    // not permitted (a container's seccomp): the bounded reads still apply
  }
  let server;
  try {
    server = await startDashboardServer({ host: listen.host, port: listen.port, source: createReportSource({ dir, clock }), clock, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CanihazError('E_UNAVAILABLE', `--listen ${shown}: ${LISTEN_ERRORS[e.code ?? ''] ?? `cannot listen: ${e.code ?? e.message}`}`, { cause: err });
  }
  const { host, port } = server.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  logger.notice('dashboard listening', { url, journal: dir });
  await new Promise<void>((resolve) => {
    if (stopSignal.aborted) resolve();
    else stopSignal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  logger.notice('dashboard stopped', { url });
  return ExitCode.OK;
}
