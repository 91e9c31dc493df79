/** Log levels, in increasing severity. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'logfmt' | 'json';
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** One line per event on stderr, logfmt or JSON. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  /** Shown by default: the end-of-run summary. */
  notice(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Lowest level written. Default `notice`: warnings and the run summary, quiet enough for cron mail. */
  level?: LogLevel;
  /** Line format. Default `logfmt`. */
  format?: LogFormat;
  /** Where lines go. Default: process.stderr. */
  write?: (line: string) => void;
  /** Wall clock for the `ts` field. Default: Date.now. */
  wallNow?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, notice: 2, warn: 3, error: 4 };

function logfmtValue(v: string | number | boolean): string {
  const s = String(v);
  if (s === '' || /[\s"=\\]/.test(s) || /[\u0000-\u001f]/.test(s)) return JSON.stringify(s);
  return s;
}

/**
 * Writes one line to stderr unless it is closed (its reader exited: EPIPE). A closed log is nobody
 * listening, not a failure: the line is dropped and the caller carries on.
 */
function writeStderr(line: string): void {
  if (process.stderr.writable) process.stderr.write(line + '\n');
}

/** Creates a logger writing to stderr (or `write`). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'notice'];
  const format = options.format ?? 'logfmt';
  const write = options.write ?? writeStderr;
  const wallNow = options.wallNow ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (RANK[level] < min) return;
    const record: Record<string, string | number | boolean> = {
      ts: new Date(wallNow()).toISOString(),
      level,
      msg,
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) record[k] = v;
    write(
      format === 'json'
        ? JSON.stringify(record)
        : Object.entries(record)
            .map(([k, v]) => `${k}=${logfmtValue(v)}`)
            .join(' '),
    );
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    notice: (m, f) => emit('notice', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, notice() {}, warn() {}, error() {} };
