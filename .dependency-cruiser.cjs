// The import rules of ARCHITECTURE.md ("canihaz — the intended shape"), checked by `npm run lint`.
// Each rule's `comment` is the page's own sentence, so a broken rule explains itself. When the page
// changes (a new room, a new arrow), change the ROOMS table and the arrows below with it.
//
// Rooms are matched on paths relative to the repository root (depcruise runs as `depcruise src`).

/** One regular expression per room, as in ARCHITECTURE.md's "Rooms" table. */
const ROOMS = {
  face: '^src/(cli\\.ts$|cli/|commands/)',
  config: '^src/config/',
  control: '^src/control/',
  schedule: '^src/schedule/',
  probes: '^src/probes/',
  metrics: '^src/metrics/',
  journal: '^src/journal/',
  dashboard: '^src/dashboard/',
  net: '^src/net/',
  events: '^src/events\\.ts$',
  clock: '^src/clock\\.ts$',
  // Base: every other file directly under src/ (errors.ts, log.ts, redact.ts, limits.ts, file-modes.ts today). A new
  // file there is Base, and so a leaf; a file that needs to import ours belongs in a room.
  base: '^src/(?!cli\\.ts$|clock\\.ts$|events\\.ts$)[^/]+\\.ts$',
};

const ALL_ROOMS = Object.values(ROOMS);
const OURS = '^src/';

/** A rule: files of room `from` may import ours only from their own room and the rooms in `to`. */
function arrows(name, from, to, comment) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: ROOMS[from] },
    to: { path: OURS, pathNot: [ROOMS[from], ...to.map((room) => ROOMS[room])] },
  };
}

/** A rule: files of room `room` import nothing of ours (not even another file of the same room). */
function leaf(name, room, comment) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: ROOMS[room] },
    to: { path: OURS },
  };
}

module.exports = {
  forbidden: [
    // ---- Who uses whom (arrows point at what is imported) ----
    arrows(
      'config-imports-only-probes-metrics-base',
      'config',
      ['probes', 'metrics', 'base'],
      'ARCHITECTURE.md: Config → Probes (each probe type owns its parameter schema) and → Metrics (each sink kind owns its destination syntax and default prefixes); every room → Base. Nothing else.',
    ),
    arrows(
      'control-imports-only-clock-base',
      'control',
      ['clock', 'base'],
      'ARCHITECTURE.md: Control → Clock; every room → Base. Control (lock slots, stop file, signals, following the config) knows no config format, scheduler, probe or sink.',
    ),
    arrows(
      'schedule-imports-only-events-clock-base',
      'schedule',
      ['events', 'clock', 'base'],
      'ARCHITECTURE.md: Schedule → Events, Clock; every room → Base. The scheduler knows no probe type and no `TestSpec`: it runs jobs (callbacks) and emits events.',
    ),
    arrows(
      'probes-import-only-events-clock-net-base',
      'probes',
      ['events', 'clock', 'net', 'base'],
      'ARCHITECTURE.md: Probes → Events, Clock, Net; every room → Base. A probe returns data, timed on the Clock the run hands it; it never reports, and it never imports the config.',
    ),
    arrows(
      'metrics-import-only-events-clock-net-base',
      'metrics',
      ['events', 'clock', 'net', 'base'],
      'ARCHITECTURE.md: Metrics → Events, Clock, Net; every room → Base. Sinks get parsed destinations handed in; they never import the config.',
    ),
    {
      name: 'journal-imports-only-events-clock-sink-base',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: Journal → Events, Clock, and Metrics only for the `MetricSink` seam (src/metrics/sink.ts) it implements; every room → Base. The journal keeps its own serialisable histogram and never imports the config: the Face hands it state_dir and journal_days.',
      from: { path: ROOMS.journal },
      to: { path: OURS, pathNot: [ROOMS.journal, ROOMS.events, ROOMS.clock, ROOMS.base, '^src/metrics/sink\\.ts$'] },
    },

    arrows(
      'dashboard-imports-only-journal-clock-base',
      'dashboard',
      ['journal', 'clock', 'base'],
      "ARCHITECTURE.md: Dashboard → Journal (it reads only the journal's format, through the journal's reader and report), Clock; every room → Base. The dashboard never imports the config, the scheduler, the probes or the sinks: the Face hands it state_dir and the listen address.",
    ),

    // ---- Never ----
    {
      name: 'nothing-below-the-face-imports-the-face',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: nothing below the Face knows argv or exit codes. Only src/cli.ts, src/cli/ and src/commands/ may import src/cli.ts, src/cli/ or src/commands/; data flows down and nothing climbs back up.',
      from: { path: OURS, pathNot: ROOMS.face },
      to: { path: ROOMS.face },
    },
    {
      name: 'scheduler-imports-no-probe-and-no-config',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: the scheduler knows no probe type and no `TestSpec`: it runs jobs (callbacks) and emits events; it aggregates nothing. The Face (commands/test-jobs.ts) wires a probe into a job.',
      from: { path: ROOMS.schedule },
      to: { path: [ROOMS.probes, ROOMS.config, ROOMS.metrics] },
    },
    {
      name: 'probes-never-import-config-or-metrics',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: a probe returns data; it never reports (no Metrics), and it never imports the config (each probe type owns its parameter schema; Config imports it, not the other way round).',
      from: { path: ROOMS.probes },
      to: { path: [ROOMS.config, ROOMS.metrics] },
    },
    {
      name: 'sinks-never-import-config',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: sinks get parsed destinations handed in; they never import the config (each sink kind owns its destination syntax in metrics/destination.ts; Config imports it).',
      from: { path: ROOMS.metrics },
      to: { path: ROOMS.config },
    },
    {
      name: 'watchers-take-a-filter-not-the-config-format',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: watchers take a filter, not the config format. control/ (watch.ts, follow-config.ts) knows no config format; the Face hands in the filter and the parser.',
      from: { path: ROOMS.control },
      to: { path: ROOMS.config },
    },
    leaf(
      'clock-is-a-leaf',
      'clock',
      'ARCHITECTURE.md: Clock, Events and Base are leaves: they import nothing of ours. src/clock.ts is the only owner of time and timers.',
    ),
    leaf(
      'events-is-a-leaf',
      'events',
      'ARCHITECTURE.md: Clock, Events and Base are leaves: they import nothing of ours. src/events.ts is the shared vocabulary every room may use.',
    ),
    arrows(
      'net-imports-only-clock',
      'net',
      ['clock'],
      'ARCHITECTURE.md: Net → Clock. src/net/ (host-name resolution, shared by probes and sinks) times its lookups on the Clock and imports nothing else of ours.',
    ),
    leaf(
      'base-is-a-leaf',
      'base',
      "ARCHITECTURE.md: Clock, Events and Base are leaves: they import nothing of ours (Base's files not even each other). Base is src/errors.ts, src/log.ts, src/redact.ts, src/limits.ts, src/file-modes.ts: every other file directly under src/ except cli.ts, clock.ts and events.ts.",
    ),
    {
      name: 'every-file-is-in-a-room',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: "Rooms" — every file of src/ belongs to one room. A new folder is a new room: add it to ARCHITECTURE.md (with its arrows) and to ROOMS in .dependency-cruiser.cjs.',
      from: { path: OURS, pathNot: ALL_ROOMS },
      to: {},
    },

    // ---- Hygiene ----
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'ARCHITECTURE.md: folders import downwards only; each step hands on plain data and nothing climbs back up. A cycle means two modules each need the other: move what both need below them.',
      from: { path: OURS },
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment:
        'A file of src/ that imports nothing and that nothing imports is dead code (or a file whose importer was deleted): use it or remove it.',
      from: { orphan: true, path: OURS, pathNot: ['\\.d\\.ts$'] },
      to: {},
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'src/ ships in the package (`npm install --omit=dev`, the .deb): it may import only `dependencies` and Node built-ins, never a devDependency (tests, lint and build tools).',
      from: { path: OURS },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        'src/ imports a package that package.json does not declare: it works here by accident (hoisted by another package) and breaks on an install of canihaz alone. Add it to dependencies or drop the import.',
      from: { path: OURS },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'src/ imports a module that does not exist (a moved or deleted file, a misspelt path).',
      from: { path: OURS },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: the scheduler must not know `TestSpec` even as a type.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
