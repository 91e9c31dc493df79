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
  report: {
    summary: "sum this host's journal over a time range: per test, its books, latency and failures",
    usage: `canihaz report [--since DURATION | --from TIME [--to TIME]] [--test NAME]... [--format table|json|csv] [options]

Reads the journal every run keeps in <state_dir>/journal and prints, per test: requested, started,
ok, failed (and by reason), dropped, missed, aborted, executions per minute, latency p50/p90/p99/max
from merged histograms and the custom metrics; then the runs and the minutes skipped because every
lock slot was busy. An empty range says so and exits 0.

Report options:
  --since DURATION   the last DURATION: 30m, 1h, 2d (s, m, h, d); default 1h
  --from TIME        from TIME: ISO 8601 with its zone (2026-11-23T10:00:00Z) or a date (UTC midnight)
  --to TIME          up to TIME, excluded; default now
  --test NAME        only this test; repeat for more
  --format F         table (aligned columns; default), json or csv (one row per test)`,
  },
  dashboard: {
    summary: "serve a read-only web page of this host's journal: charts per test, failures, runs",
    usage: `canihaz dashboard [--listen HOST:PORT] [options]

Serves a local, read-only page over the journal in <state_dir>/journal: per test, executions per
minute with failures stacked and latency p50/p99 over time, failures by reason, the recent runs; a
range picker (last hour, day, week) and auto-refresh. Its data: GET /api/report?since=1h (the JSON of
"canihaz report --format json" plus the chart series) and GET /api/runs?limit=N. It loads nothing
from the internet. Runs until SIGTERM or SIGINT, then exits 0; exit 69 when the address cannot be
had (in use, not this host's).

Dashboard options:
  --listen HOST:PORT  where to listen: an IP address (IPv6 in brackets) or localhost, and a port
                      (0: any free one); default 127.0.0.1:3210. A non-loopback address is served,
                      with a warning: the page has no authentication`,
  },
  replay: {
    summary: "re-send this host's journal to Graphite as the run sent it (backfill after an outage)",
    usage: `canihaz replay --to graphite://HOST:PORT [--since DURATION | --from TIME [--to TIME]] [--test NAME]... [--timeout DURATION] [options]

Sends the journal's intervals in the range (from <state_dir>/journal) as Graphite plaintext points
with the paths and timestamps the run's Graphite sink uses: <graphite_prefix>.<test>.count, .ok, ...,
.latency.p99, the interval start in seconds; {host} in the prefix is the host that ran it. Graphite
keeps the last value per path and timestamp, so replaying a range twice, or a range the server
already holds, changes nothing. Prints how many points it sent. Exit 0 when all were sent and the
server closed the connection after us (an empty range: nothing sent, exit 0); 69 when they could not
be delivered (refused, unresolvable name, reset, a server that does not read); 2 when the journal
cannot be read.

Replay options:
  --to DESTINATION    where to send: graphite://HOST:PORT (IPv6 as [::1]:2003), or graphite (the
                      graphite setting); required. A --to that is a time ends the range, as in report
  --since DURATION    the last DURATION: 30m, 2h, 2d (s, m, h, d); default 1h
  --from TIME         from TIME: ISO 8601 with its zone (2026-11-23T10:00:00Z) or a date (UTC midnight)
  --to TIME           up to TIME, excluded; default now
  --test NAME         only this test; repeat for more
  --timeout DURATION  longest wait for the connection, for the server to take more data, and for its
                      close at the end; default 30s`,
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
