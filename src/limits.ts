/**
 * The process's resource limits: the soft file-descriptor limit (what `ulimit -n` or systemd's
 * LimitNOFILE= gave this copy), the share of it that connections may use, and the one alarm raised
 * when a limit is hit — once per limit, loudly, instead of one failure per execution.
 */
import { readFileSync } from 'node:fs';

/** File descriptors kept back from connections for the agent's own use: stdio, epoll, StatsD and Graphite sockets, the config watcher, lock files, config reads. */
export const FD_RESERVE = 64;

/** The soft RLIMIT_NOFILE of this process from /proc/self/limits, or undefined when unknown or unlimited. */
export function softFdLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\S+)/m.exec(text);
  if (!match || match[1] === 'unlimited') return undefined;
  const n = Number(match[1]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Most connections the agent opens at once under a soft fd limit: what is left after FD_RESERVE and
 * an eighth of the limit (headroom for what the reserve does not foresee), at least 8. Infinity when
 * there is no limit.
 */
export function connectionBudget(softLimit: number | undefined): number {
  if (softLimit === undefined) return Infinity;
  return Math.max(8, Math.floor(softLimit - FD_RESERVE - softLimit / 8));
}

/** Which limit was hit: the fd limit of the process or of the system, or the agent's own connection budget. */
export type LimitKind = 'EMFILE' | 'ENFILE' | 'connections';

/** Receives the one alarm per limit (the Face logs it as an error). */
export type LimitListener = (message: string, fields: Record<string, string | number>) => void;

let listener: LimitListener | undefined;
const raised = new Set<LimitKind>();

/** Sets who hears limit alarms (one listener; the latest wins). */
export function onLimitHit(next: LimitListener | undefined): void {
  listener = next;
}

/** The errno of an fd-limit error (its own `code` or that of its cause), if it is one. */
export function fdLimitCode(err: unknown): 'EMFILE' | 'ENFILE' | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EMFILE' || code === 'ENFILE') return code;
  }
  return undefined;
}

/**
 * Raises the alarm for a limit, the first time it is hit in this process; later hits say nothing
 * (the executions or metrics they cost are counted where they happen).
 */
export function limitHit(kind: LimitKind, fields: Record<string, string | number> = {}): void {
  if (raised.has(kind)) return;
  raised.add(kind);
  const soft = softFdLimit();
  const limit = soft === undefined ? 'unlimited' : soft;
  const message =
    kind === 'connections'
      ? 'connection budget reached: executions wait for a free connection (and may time out); raise the fd limit (ulimit -n, LimitNOFILE=) or run fewer tests at once'
      : kind === 'EMFILE'
        ? 'file descriptor limit reached (EMFILE): executions and metrics fail until descriptors are freed; raise the fd limit (ulimit -n, LimitNOFILE=)'
        : 'system-wide file table full (ENFILE): executions and metrics fail; raise fs.file-max or run fewer processes';
  listener?.(message, { limit: kind, fd_soft_limit: limit, ...fields });
}
