/**
 * The backslash escapes of a probe's byte-valued fields (`send=`, `expect=`): `\n`, `\r`, `\t`,
 * `\\` and `\xNN` (one byte). The value may be a secret (a password sent after connect), so an error
 * names where the bad escape is, never the value around it.
 */
import { describeChar } from '../redact.js';
import type { Parsed } from './params.js';

const SIMPLE: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09, '\\': 0x5c };
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** How the escapes are written, for messages. */
export const ESCAPES_HELP = String.raw`use \n, \r, \t, \\ or \xNN (two hex digits)`;

/**
 * Decodes `raw` into bytes: characters as UTF-8, escapes as their byte. A bad escape is an error
 * naming its position (in characters, from 1) and the escape letter only, never the value.
 */
export function parseEscapes(raw: string): Parsed<Buffer> {
  const chars = Array.from(raw);
  const parts: Buffer[] = [];
  let text = '';
  const flush = () => {
    if (text !== '') parts.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch !== '\\') {
      text += ch;
      continue;
    }
    const at = i + 1;
    const next = chars[i + 1];
    if (next === undefined) return { error: `ends with a lone backslash at character ${at}; write \\\\ for a backslash (the value is not shown)` };
    const simple = SIMPLE[next];
    if (simple !== undefined) {
      flush();
      parts.push(Buffer.of(simple));
      i++;
      continue;
    }
    if (next === 'x') {
      const hex = chars.slice(i + 2, i + 4).join('');
      if (!HEX_PAIR.test(hex)) return { error: `\\x at character ${at} must be followed by two hex digits, e.g. \\x00 (the value is not shown)` };
      flush();
      parts.push(Buffer.of(Number.parseInt(hex, 16)));
      i += 3;
      continue;
    }
    const shown = /^[\x21-\x7e]$/.test(next) ? `"\\${next}"` : `"\\" followed by ${describeChar(next)}`;
    return { error: `unknown escape ${shown} at character ${at}; ${ESCAPES_HELP} (the value is not shown)` };
  }
  flush();
  return { value: Buffer.concat(parts) };
}
