/**
 * What the tests file and the settings file share: the line prelude (a leading BOM, LF, CRLF or lone
 * CR line ends, blank lines and `#` comments) and the whole-number field.
 */
import { z } from 'zod';

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

/** A field of digits only, as a number; anything else fails with `expected(input)`. */
export function digits(expected: (input: string) => string) {
  return z
    .string()
    .regex(/^\d+$/, { error: (iss) => expected(String(iss.input)) })
    .transform(Number);
}
