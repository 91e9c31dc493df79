/**
 * The journal's record of a copy that found every lock slot busy: one open, one write, one close.
 * Kept apart from the sink so such a copy, which must exit fast, loads no more than this.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { createAppender } from './appender.js';
import { encodeRecord, journalDir, JOURNAL_VERSION } from './records.js';

/** Appends one `skipped` record to `<stateDir>/journal`; never throws (a journal that cannot be written is one warning). */
export function journalSkipped(options: { stateDir: string; host: string; clock: Clock; logger: Logger }): void {
  const at = options.clock.wallNow();
  const appender = createAppender({ dir: journalDir(options.stateDir), stateDir: options.stateDir, logger: options.logger });
  appender.append(at, [encodeRecord({ v: JOURNAL_VERSION, kind: 'skipped', host: options.host, at })]);
}
