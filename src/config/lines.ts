/**
 * What the tests file and the settings file share: the line prelude (a leading BOM, LF, CRLF or lone
 * CR line ends, blank lines and `#` comments) and the frequency caps. No zod here: the settings read
 * it on every start, `--help` and a stopped run included.
 */

/** Default cap on executions per minute for one test. */
export const DEFAULT_MAX_FREQUENCY = 60_000;
/** Default cap on executions per minute of all tests of one agent together. */
export const DEFAULT_MAX_TOTAL_RATE = 600_000;

/** One line that carries content: its number (from 1) and its text, trimmed. */
export interface ContentLine {
  line: number;
  text: string;
}

/** The lines of `text` that carry content; each of LF, CRLF and a lone CR (old Mac files) ends one line. */
export function contentLines(text: string): ContentLine[] {
  const out: ContentLine[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .forEach((raw, index) => {
      const trimmed = raw.trim();
      if (trimmed !== '' && !trimmed.startsWith('#')) out.push({ line: index + 1, text: trimmed });
    });
  return out;
}
