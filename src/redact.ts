/**
 * Redaction and quoting of config values for error messages. Config errors go to stderr, and from
 * there to syslog and cron mail, so a value is echoed only through `quoteValue` (secrets masked,
 * control characters escaped, long values cut) and a value that may be a secret, such as a header
 * value, is never echoed at all.
 */

/** What replaces a secret in a message. */
export const REDACTED = '***';

/** Longest part of a value a message echoes, in characters. */
export const MAX_ECHO_CHARS = 80;

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Masks the secrets a URL-like text may carry, whether or not it parses: userinfo (`user:pass@`
 * becomes `***@`), every query value (keys are kept), and the fragment. Over-masks rather than
 * under-masks when the text is malformed.
 */
export function redactUrl(text: string): string {
  let rest = text;
  let fragment = '';
  const hash = rest.indexOf('#');
  // A '#' before the last '@' is inside the userinfo (an unencoded password), not a fragment.
  const queryStart = rest.indexOf('?');
  const lastAt = rest.lastIndexOf('@', queryStart >= 0 ? queryStart : undefined);
  if (hash >= 0 && hash > lastAt) {
    fragment = hash < rest.length - 1 ? `#${REDACTED}` : '#';
    rest = rest.slice(0, hash);
  }
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = `?${rest
      .slice(q + 1)
      .split('&')
      .map((part) => {
        if (part === '') return '';
        const eq = part.indexOf('=');
        if (eq < 0) return REDACTED;
        return eq === part.length - 1 ? part : `${part.slice(0, eq + 1)}${REDACTED}`;
      })
      .join('&')}`;
    rest = rest.slice(0, q);
  }
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const scheme = SCHEME.exec(rest)?.[0] ?? '';
    rest = `${scheme}${REDACTED}${rest.slice(at)}`;
  }
  return `${rest}${query}${fragment}`;
}

/**
 * Masks every URL-looking word of a free-form value (a word holding `://`, `@` or `?`), for values
 * that should not hold a URL at all but may (a field written in the wrong place).
 */
export function redactSecrets(text: string): string {
  return text.replace(/[^\s"'|]+/g, (word) => (/:\/\/|[@?]/.test(word) ? redactUrl(word) : word));
}

/**
 * Characters JSON.stringify leaves as they are but a terminal or log viewer acts on: DEL, the C1
 * controls, line and paragraph separators, bidi overrides (which can make a message read backwards)
 * and the BOM.
 */
const UNSAFE_FOR_TERMINALS = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** JSON.stringify, plus `\uXXXX` escapes for UNSAFE_FOR_TERMINALS. */
function jsonQuote(text: string): string {
  return JSON.stringify(text).replace(UNSAFE_FOR_TERMINALS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Quotes a value for a message: secrets masked (`redactSecrets`), JSON-style escapes for quotes,
 * backslashes and every control character, and at most `max` characters, the rest counted:
 * `"aaaa…" (920 more characters)`.
 */
export function quoteValue(value: string, max: number = MAX_ECHO_CHARS): string {
  const chars = Array.from(redactSecrets(value));
  if (chars.length <= max) return jsonQuote(chars.join(''));
  const more = chars.length - max;
  return `${jsonQuote(chars.slice(0, max).join('') + '…')} (${more} more character${more === 1 ? '' : 's'})`;
}

/** Longest leading word `quotePrefix` shows; a longer one may be a token. */
const MAX_PREFIX_WORD = 24;

/**
 * Describes a value that may be a secret as a whole (a `key=value` field missing its `=` may be
 * `Authorization: Bearer …`, or a piece of a token cut by a stray `|`) by its leading word only:
 * `"Authorization…"`. A value that is one word, or starts with a long one, is not shown at all:
 * `one word of 40 characters (not shown)`.
 */
export function quotePrefix(value: string): string {
  const count = Array.from(value).length;
  const chars = `${count} character${count === 1 ? '' : 's'}`;
  const word = /^[A-Za-z0-9_.-]*/.exec(value)![0];
  if (word.length === value.length) return `one word of ${chars} (not shown)`;
  if (word === '' || word.length > MAX_PREFIX_WORD) return `${chars} (not shown)`;
  return JSON.stringify(`${word}…`);
}

/** Names one character for a message without echoing the text around it: `U+0001`. */
export function describeChar(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
