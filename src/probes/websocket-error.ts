/** What a WebSocket session fails with: one of the shared failure reasons and a one-line message. */

/** Why opening, sending or receiving failed; `reason` is a shared failure reason. */
export class WebSocketError extends Error {
  /** `refused`, `timeout`, `dns`, `tls`, `reset`, `status_<n>`, `closed`, `mismatch`, `aborted` or `other`. */
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebSocketError';
    this.reason = reason;
  }
}

/** An error's message on one line (OpenSSL's carry a trailing newline and a source path). */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim().slice(0, 200);
}
