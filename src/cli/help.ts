import { envOf, flagOf, SETTING_ROWS, SETTINGS, type CommandName, type SettingName } from '../config/settings.js';

/** What each command is, for `canihaz --help`, and its usage, for its own `--help`. */
export const COMMAND_DOCS: Record<CommandName, { summary: string; usage: string }> = {
  run: {
    summary: 'run every configured test for this minute (what cron runs every minute)',
    usage: `canihaz run [options]

Owns the wall-clock minute it starts in (or [now, now + SECONDS) with --lifetime), paces every
test's executions evenly across it, catches up after a late start, reports every execution, and
exits 0 once in-flight executions are done and metrics are flushed.`,
  },
  daemon: {
    summary: 'run forever, starting one "canihaz run" per minute (for systemd and hosts without cron)',
    usage: `canihaz daemon [options]

Starts one "canihaz run" child at second 0 of every minute (UTC), passing on the options given
here (and its environment). The children share the lock slots, so at most three run at once.
SIGTERM or SIGINT stops scheduling, passes SIGTERM to the children, waits for them, and exits 0.
--log-level and --log-format apply to the daemon's own lines too.`,
  },
  check: {
    summary: 'validate the tests config and settings without running anything',
    usage: `canihaz check [options]

Prints every problem as FILE:LINE: field: reason. Imports the scenario modules the config names
(from --types-dir) and reports a module that is refused or fails to load on each line naming it.
Exit 0 when clean, 1 when not, 2 when the config cannot be read. Works as Puppet's validate_cmd and
Chef's verify (any file name).`,
  },
};

/** Help text width. */
const HELP_COLUMNS = 100;

/** Wraps a paragraph at word boundaries to HELP_COLUMNS. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > HELP_COLUMNS) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}

/** The help text of a command's options: those it uses, then how else to set them. */
function optionsHelp(name: CommandName): string {
  const left = (o: { short?: string; flag: string; arg?: string }) => `${o.short ? `-${o.short}, ` : '    '}--${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
  const all = SETTING_ROWS;
  const used = all.filter((o) => o.usedBy.includes(name));
  // Columns fit every option, so every command's help lines up the same.
  const leftWidth = Math.max(...all.map((o) => left(o).length)) + 2;
  const docWidth = Math.max(...all.map((o) => o.doc.length)) + 2;
  const lines = used.map((o) => `  ${left(o).padEnd(leftWidth)}${o.doc.padEnd(docWidth)}[${o.default}]`);
  lines.push(`  ${left({ short: 'h', flag: 'help' }).padEnd(leftWidth)}this help`);
  const exceptions = used.filter((o) => o.from !== 'anywhere').map((o) => `--${o.flag}`);
  const unused = all.filter((o) => !o.usedBy.includes(name)).map((o) => `--${o.flag}`);
  const example: SettingName = 'max_frequency';
  return [
    'Options:',
    ...lines,
    '',
    wrap(
      `Each option can also be set as CANIHAZ_<KEY> (--${flagOf(example)}: ${envOf(example)}) and` +
        `${exceptions.length > 0 ? `, but for ${exceptions.join(' and ')},` : ''} in the settings file as key = value` +
        ` (${example} = ${SETTINGS[example].arg}). Flags win over the environment, which wins over the settings file.`,
    ),
    ...(unused.length > 0 ? ['', wrap(`Also accepted and checked, but not used by ${name} (one set of flags serves every command): ${unused.join(', ')}.`)] : []),
  ].join('\n');
}

/** `canihaz --help`. */
export function mainHelp(version: string): string {
  const width = Math.max(...Object.keys(COMMAND_DOCS).map((c) => c.length));
  return `canihaz ${version} — capacity-test agent for fleets of servers

Usage: canihaz <command> [options]
       canihaz --help | --version

Commands:
${Object.entries(COMMAND_DOCS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Options:
  -h, --help      this help
  -V, --version   print the version

Run "canihaz <command> --help" for a command's options.`;
}

/** `canihaz <command> --help`. */
export function commandHelp(name: CommandName): string {
  return `Usage: ${COMMAND_DOCS[name].usage}\n\n${optionsHelp(name)}`;
}
