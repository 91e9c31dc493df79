import { parseArgs, type ParseArgsConfig } from 'node:util';
import { quoteValue } from '../redact.js';
import { SETTING_ROWS, type RawSettings } from '../config/settings.js';
import { CanihazError } from '../errors.js';

/** A usage error: `<subject>: <reason>` (the CLI adds `canihaz: ` and where help is). */
export function usageError(subject: string, reason: string): CanihazError {
  return new CanihazError('E_USAGE', `${subject}: ${reason}`);
}

/** Every command's parseArgs options: one string option per setting, and --help. */
const PARSE_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...Object.fromEntries(SETTING_ROWS.map((s) => [s.flag, s.short ? { type: 'string', short: s.short } : { type: 'string' }])),
  help: { type: 'boolean', short: 'h' },
};

/** A command's arguments: each setting given as a flag, by key, and whether --help was asked. */
export interface CommandArgs {
  flags: RawSettings;
  help: boolean;
  /** The values of the command's own options (`report`'s --since …), as parseArgs gives them. */
  own: Record<string, string | string[] | boolean | boolean[] | undefined>;
}

/**
 * Parses a command's arguments: options only, every setting with a value. Strictness is ours rather
 * than parseArgs' so that every message names the option in our own style. The first malformed
 * argument stops the parse: what follows it cannot be read reliably (`--config --lifetime 5`).
 */
export function parseCommandArgs(args: string[], ownOptions: NonNullable<ParseArgsConfig['options']> = {}): CommandArgs {
  const options = { ...PARSE_OPTIONS, ...ownOptions };
  const { values, tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') throw usageError(quoteValue(t.value), 'unexpected argument: commands take options only');
    if (t.kind !== 'option') continue;
    const option = options[t.name];
    if (!option) throw usageError(t.rawName, 'unknown option');
    if (option.type === 'boolean') {
      if (t.value !== undefined) throw usageError(t.rawName, `takes no value, got ${quoteValue(t.value)}`);
      continue;
    }
    const example = `--${t.name} ${SETTING_ROWS.find((s) => s.flag === t.name)?.arg ?? 'VALUE'}`;
    if (t.value === undefined) throw usageError(`--${t.name}`, `needs a value, as in ${example}`);
    // As parseArgs' strict mode: `--config --lifetime 5` is a forgotten value, not a path "--lifetime".
    if (!t.inlineValue && t.value.startsWith('-') && t.value !== '-') {
      throw usageError(`--${t.name}`, `needs a value, as in ${example}, got the option ${quoteValue(t.value)}; write --${t.name}=VALUE for a value that starts with -`);
    }
  }
  const flags: RawSettings = {};
  for (const { key, flag } of SETTING_ROWS) {
    const value = values[flag];
    if (typeof value === 'string') flags[key] = value;
  }
  return { flags, help: values.help === true, own: Object.fromEntries(Object.keys(ownOptions).map((k) => [k, values[k]])) };
}
