/** Process exit codes, the one place they are defined; the README documents each. */
export const ExitCode = {
  /** Ran (or was skipped on purpose: stop file, all lock slots busy); or `check` found nothing wrong. */
  OK: 0,
  /** `check` found at least one problem in the config or settings. */
  INVALID: 1,
  /** The config or settings could not be read at all (missing, unreadable). */
  UNREADABLE: 2,
  /** `run`: the lock directory cannot be created or written, so no slot can be taken. */
  LOCK_DIR: 3,
  /** Bad command-line usage: unknown command or flag, bad flag value. */
  USAGE: 64,
  /** `dashboard`: the address to listen on cannot be had (in use, not this host's, not permitted). */
  UNAVAILABLE: 69,
  /** A bug: an error nothing else caught. */
  INTERNAL: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Stable machine-readable codes carried by every CanihazError. */
export type ErrorCode = 'E_USAGE' | 'E_UNREADABLE' | 'E_INVALID' | 'E_LOCK' | 'E_UNAVAILABLE';

/** A set-up failure with a stable `code`; `cli.ts` maps it to an exit code. */
export class CanihazError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CanihazError';
    this.code = code;
  }
}

/** Maps an error code to its exit code. */
export function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case 'E_USAGE':
      return ExitCode.USAGE;
    case 'E_UNREADABLE':
      return ExitCode.UNREADABLE;
    case 'E_INVALID':
      return ExitCode.INVALID;
    case 'E_LOCK':
      return ExitCode.LOCK_DIR;
    case 'E_UNAVAILABLE':
      return ExitCode.UNAVAILABLE;
  }
}
