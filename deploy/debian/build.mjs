#!/usr/bin/env node
// Builds the canihaz Debian package: dist-pkg/canihaz_<version>_<arch>.deb, with dpkg-deb.
//
//   node deploy/debian/build.mjs [--arch amd64|arm64] [-Z xz|zstd|gzip|none] [-z LEVEL]
//   node deploy/debian/build.mjs --print-path [--arch A]    the .deb's path; builds nothing
//   node deploy/debian/build.mjs --runtime-only [--arch A]  fetch the embedded Node.js (cached) and
//                                                           print the path of its bin/node
//
// `npm run package` runs `npm run build` and then this. The architecture defaults to the host's
// ($CANIHAZ_DEB_ARCH overrides it); an arm64 package builds on an x64 host (nothing is executed).
//
// What goes in: dist/ (without source maps: they point at src/, which is not shipped) and the
// production dependencies (`npm ci --omit=dev --ignore-scripts` from the repository's lockfile, minus
// types, sources, maps and tests) under /usr/lib/canihaz; the Node.js binary for the target
// architecture, from the npm registry package node-linux-<cpu> pinned with its integrity hash in
// deploy/debian/runtime/package-lock.json, under /usr/lib/canihaz/node; the wrapper /usr/bin/canihaz;
// conf/ and systemd/ files in their system places; docs, a man page made from `canihaz --help`, and
// the lintian overrides. The Debian version is the top entry of deploy/debian/changelog, whose
// upstream part must equal package.json's version; its date is SOURCE_DATE_EPOCH (every mtime), so
// two builds of one commit give the same file list, modes, owners and contents.
//
// Downloads are cached: npm's cache for tarballs, and the unpacked runtime under
// $CANIHAZ_DEB_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/canihaz-deb), keyed by the runtime
// lockfile's hash. Plain Node, no dependencies; needs npm and dpkg-deb.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const OUT = join(ROOT, 'dist-pkg');
const PREFIX = 'usr/lib/canihaz';

/** Debian architecture → the Node.js npm package's cpu, and the ELF e_machine of its binary. */
const ARCHES = {
  amd64: { cpu: 'x64', machine: 62 },
  arm64: { cpu: 'arm64', machine: 183 },
};
const ARCH_ALIASES = { x64: 'amd64', x86_64: 'amd64', aarch64: 'arm64' };

/**
 * The shared libraries the Node.js binary links against. control.in's Depends covers exactly these
 * (from dpkg-shlibdeps on the x64 binary; the arm64 binary needs the same); a Node.js update that
 * adds one stops the build here instead of shipping a package with a missing dependency.
 */
const KNOWN_NEEDED = new Set([
  'libatomic.so.1',
  'libdl.so.2',
  'libm.so.6',
  'libstdc++.so.6',
  'libgcc_s.so.1',
  'libpthread.so.0',
  'libc.so.6',
  'ld-linux-x86-64.so.2',
  'ld-linux-aarch64.so.1',
]);

/** Pruned from the bundled node_modules: nothing the agent loads at run time. */
const PRUNE_DIRS = new Set(['test', 'tests', '__tests__', 'example', 'examples', 'docs', '.github']);
const PRUNE_FILES = [/\.map$/, /\.ts$/, /\.d\.[cm]ts$/, /\.tsbuildinfo$/, /^Makefile$/, /\.gif$/, /^\./];

class BuildError extends Error {}

function fail(message) {
  throw new BuildError(message);
}

function main() {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string' },
      'print-path': { type: 'boolean', default: false },
      'runtime-only': { type: 'boolean', default: false },
      compression: { type: 'string', short: 'Z', default: 'xz' },
      level: { type: 'string', short: 'z' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 8).map((l) => l.slice(3)).join('\n') + '\n');
    return;
  }
  const arch = debianArch(values.arch ?? process.env.CANIHAZ_DEB_ARCH ?? hostArch());
  if (values['runtime-only']) {
    process.stdout.write(embeddedRuntime(arch).node + '\n');
    return;
  }
  const version = debianVersion();
  const deb = join(OUT, `canihaz_${version.full}_${arch}.deb`);
  if (values['print-path']) {
    process.stdout.write(deb + '\n');
    return;
  }
  const compression = values.compression;
  if (!['xz', 'zstd', 'gzip', 'none'].includes(compression)) fail(`--compression: expected xz, zstd, gzip or none, got "${compression}"`);
  if (values.level !== undefined && !/^\d$|^1\d$/.test(values.level)) fail(`--level: expected a number 0-19, got "${values.level}"`);
  const t0 = performance.now();
  build({ arch, version, deb, compression, level: values.level });
  log(`built ${relative(process.cwd(), deb) || deb} (${(statSync(deb).size / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(deb + '\n');
}

function log(message) {
  process.stderr.write(`build.mjs: ${message}\n`);
}

function hostArch() {
  const a = ARCH_ALIASES[process.arch] ?? process.arch;
  if (!(a in ARCHES)) fail(`no Debian package for this host's architecture (${process.arch}); pass --arch amd64 or --arch arm64`);
  return a;
}

function debianArch(name) {
  const a = ARCH_ALIASES[name] ?? name;
  if (!(a in ARCHES)) fail(`--arch: expected amd64 or arm64, got "${name}"`);
  return a;
}

/** The top entry of deploy/debian/changelog: version (checked against package.json) and date. */
function debianVersion() {
  const file = join(HERE, 'changelog');
  const text = readFileSync(file, 'utf8');
  const head = /^canihaz \(((\d[^-\s)]*)-([^\s)]+))\)/.exec(text);
  if (!head) fail(`${file}:1: expected "canihaz (<upstream>-<revision>) ...", got "${text.split('\n')[0]}"`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  if (head[2] !== pkg.version) {
    fail(`${file}:1: the top entry is ${head[1]} but package.json's version is ${pkg.version}; add a changelog entry for ${pkg.version}-1`);
  }
  const trailer = /^ -- .+?> {2}(.+)$/m.exec(text);
  const date = trailer ? Date.parse(trailer[1]) : NaN;
  if (Number.isNaN(date)) fail(`${file}: the top entry has no " -- Name <email>  date" line with a valid date`);
  return { full: head[1], upstream: head[2], epoch: Math.floor(date / 1000), pkg };
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) fail(`${cmd}: ${r.error.code === 'ENOENT' ? 'not found (install it)' : r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

/** npm ci with the lockfile in `dir`, quietly; integrity hashes are checked by npm. */
function npmCi(dir, extra) {
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...extra], { cwd: dir });
}

/**
 * The embedded Node.js for `arch`, installed with `npm ci --os=linux --cpu=<cpu>` from
 * deploy/debian/runtime (only the matching optional dependency is installed) into a cache directory
 * keyed by the lockfile, once. Returns its package directory and bin/node.
 */
function embeddedRuntime(arch) {
  const { cpu, machine } = ARCHES[arch];
  const src = join(HERE, 'runtime');
  const hash = createHash('sha256')
    .update(readFileSync(join(src, 'package.json')))
    .update(readFileSync(join(src, 'package-lock.json')))
    .digest('hex')
    .slice(0, 16);
  const cache = process.env.CANIHAZ_DEB_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'canihaz-deb');
  const dir = join(cache, `runtime-${cpu}-${hash}`);
  const pkgDir = join(dir, 'node_modules', `node-linux-${cpu}`);
  const result = { pkgDir, node: join(pkgDir, 'bin', 'node') };
  if (existsSync(join(dir, '.complete'))) return result;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, `.runtime-${cpu}-`));
  try {
    cpSync(join(src, 'package.json'), join(tmp, 'package.json'));
    cpSync(join(src, 'package-lock.json'), join(tmp, 'package-lock.json'));
    const t0 = performance.now();
    npmCi(tmp, ['--os=linux', `--cpu=${cpu}`]);
    const installed = readdirSync(join(tmp, 'node_modules')).filter((n) => n.startsWith('node-linux-'));
    if (installed.join() !== `node-linux-${cpu}`) fail(`npm ci --cpu=${cpu} installed [${installed.join(', ')}], expected node-linux-${cpu} alone`);
    const tmpNode = join(tmp, 'node_modules', `node-linux-${cpu}`, 'bin', 'node');
    const elf = elfInfo(tmpNode);
    if (elf.machine !== machine) fail(`${tmpNode}: ELF machine ${elf.machine}, expected ${machine} for ${arch}`);
    writeFileSync(join(tmp, '.complete'), '');
    log(`fetched the embedded Node.js for ${arch} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another build got there first (ENOTEMPTY/EEXIST): use its copy.
      if (!existsSync(join(dir, '.complete'))) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return result;
}

/** e_machine and the DT_NEEDED libraries of a 64-bit little-endian ELF file. */
function elfInfo(file) {
  const buf = readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) fail(`${file}: not a 64-bit little-endian ELF file`);
  const machine = buf.readUInt16LE(18);
  const shoff = Number(buf.readBigUInt64LE(40));
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const section = (i) => {
    const o = shoff + i * shentsize;
    return { type: buf.readUInt32LE(o + 4), offset: Number(buf.readBigUInt64LE(o + 24)), size: Number(buf.readBigUInt64LE(o + 32)), link: buf.readUInt32LE(o + 40) };
  };
  const needed = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== 6) continue; // SHT_DYNAMIC
    const strtab = section(s.link);
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const tag = buf.readBigInt64LE(o);
      if (tag === 0n) break;
      if (tag !== 1n) continue; // DT_NEEDED
      const start = strtab.offset + Number(buf.readBigUInt64LE(o + 8));
      needed.push(buf.toString('latin1', start, buf.indexOf(0, start)));
    }
  }
  return { machine, needed };
}

function build({ arch, version, deb, compression, level }) {
  const cli = join(ROOT, 'dist', 'cli.js');
  if (!existsSync(cli)) fail(`${cli} is missing: run \`npm run build\` first (\`npm run package\` does)`);
  mkdirSync(OUT, { recursive: true });
  const stage = mkdtempSync(join(OUT, '.stage-'));
  try {
    const root = join(stage, 'root');
    const lib = join(root, PREFIX);
    const put = (rel, content, mode = 0o644) => {
      const p = join(root, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content, { mode });
      chmodSync(p, mode);
    };
    const copy = (from, rel, mode = 0o644) => put(rel, readFileSync(join(ROOT, from)), mode);

    // The agent: dist/ without maps, a package.json (for "type": "module" and --version), and the
    // production dependencies.
    cpSync(join(ROOT, 'dist'), join(lib, 'dist'), { recursive: true, filter: (p) => !p.endsWith('.map') });
    for (const f of walk(join(lib, 'dist'))) {
      if (!f.endsWith('.js')) continue;
      const text = readFileSync(f, 'utf8');
      const stripped = text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
      if (stripped !== text) writeFileSync(f, stripped);
    }
    // /usr/bin/canihaz runs cli.js with the embedded node, never through its `#!/usr/bin/env node`
    // line (which would find the system's node, if any): the line becomes a comment (line numbers
    // kept) and the file is not executable.
    const cliJs = join(lib, 'dist', 'cli.js');
    writeFileSync(cliJs, readFileSync(cliJs, 'utf8').replace(/^#!.*/, '// Run by /usr/bin/canihaz with the Node.js in /usr/lib/canihaz/node.'));
    chmodSync(cliJs, 0o644);
    const { pkg } = version;
    put(`${PREFIX}/package.json`, JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, type: pkg.type, license: pkg.license, dependencies: pkg.dependencies }, null, 2) + '\n');
    const app = join(stage, 'app');
    mkdirSync(app);
    cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    npmCi(app, ['--omit=dev']);
    rmSync(join(app, 'node_modules', '.bin'), { recursive: true, force: true });
    prune(join(app, 'node_modules'));
    renameSync(join(app, 'node_modules'), join(lib, 'node_modules'));

    // The runtime.
    const runtime = embeddedRuntime(arch);
    const elf = elfInfo(runtime.node);
    const unknown = elf.needed.filter((n) => !KNOWN_NEEDED.has(n));
    if (unknown.length > 0) fail(`${runtime.node} needs ${unknown.join(', ')}, which control.in's Depends does not cover: add the Debian packages and list the libraries in KNOWN_NEEDED`);
    put(`${PREFIX}/node/bin/node`, readFileSync(runtime.node), 0o755);
    put(`${PREFIX}/node/LICENSE`, readFileSync(join(runtime.pkgDir, 'LICENSE')));
    const nodePkg = JSON.parse(readFileSync(join(runtime.pkgDir, 'package.json'), 'utf8'));

    // Commands, configuration, units.
    copy('deploy/debian/canihaz.sh', 'usr/bin/canihaz', 0o755);
    copy('conf/canihaz.cron', 'etc/cron.d/canihaz');
    copy('conf/tests.conf.example', 'etc/canihaz/tests.conf.example');
    // Scenario modules' directory (types_dir): root's, 0755, as strict_modes wants it; empty.
    mkdirSync(join(root, 'etc/canihaz/types'), { recursive: true, mode: 0o755 });
    copy('types/scenario.d.ts', `${PREFIX}/types/scenario.d.ts`);
    copy('conf/sysusers.d/canihaz.conf', 'usr/lib/sysusers.d/canihaz.conf');
    copy('conf/tmpfiles.d/canihaz.conf', 'usr/lib/tmpfiles.d/canihaz.conf');
    for (const unit of readdirSync(join(ROOT, 'systemd')).sort()) copy(`systemd/${unit}`, `lib/systemd/system/${unit}`);

    // Documentation.
    const doc = 'usr/share/doc/canihaz';
    put(`${doc}/README.md.gz`, gzip(readFileSync(join(ROOT, 'README.md'))));
    put(`${doc}/changelog.Debian.gz`, gzip(readFileSync(join(HERE, 'changelog'))));
    put(`${doc}/copyright`, copyright(join(lib, 'node_modules'), nodePkg));
    copy('conf/types/example-login.mjs', `${doc}/examples/types/example-login.mjs`);
    put('usr/share/man/man1/canihaz.1.gz', gzip(manPage(version)));
    copy('deploy/debian/lintian-overrides', 'usr/share/lintian/overrides/canihaz');

    // Control area.
    const fields = { VERSION: version.full, ARCH: arch, INSTALLED_SIZE: String(installedSize(root)) };
    put('DEBIAN/control', readFileSync(join(HERE, 'control.in'), 'utf8').replace(/@([A-Z_]+)@/g, (m, k) => fields[k] ?? fail(`control.in: unknown placeholder ${m}`)));
    put('DEBIAN/conffiles', '/etc/canihaz/tests.conf.example\n/etc/cron.d/canihaz\n');
    for (const script of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${script}`, readFileSync(join(HERE, script)), 0o755);
    put('DEBIAN/md5sums', md5sums(root));
    normalize(root, version.epoch);

    const tmpDeb = join(stage, 'out.deb');
    const z = level ?? { xz: '6', zstd: '19', gzip: '9', none: '0' }[compression];
    run('dpkg-deb', ['--root-owner-group', `-Z${compression}`, `-z${z}`, '--build', root, tmpDeb], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(version.epoch) },
    });
    renameSync(tmpDeb, deb);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Every file (not directory) under `dir`, sorted. */
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function prune(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) {
      if (PRUNE_DIRS.has(name)) rmSync(p, { recursive: true });
      else {
        prune(p);
        if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
      }
    } else if (PRUNE_FILES.some((re) => re.test(name))) {
      rmSync(p);
    }
  }
}

/** Modes 0755 for directories and executables, 0644 for the rest; every mtime = SOURCE_DATE_EPOCH. */
function normalize(dir, epoch) {
  const visit = (p) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) fail(`${p}: unexpected symlink in the package tree`);
    if (st.isDirectory()) {
      chmodSync(p, 0o755);
      for (const name of readdirSync(p)) visit(join(p, name));
    } else {
      chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
    }
    utimesSync(p, epoch, epoch);
  };
  visit(dir);
}

/** Installed-Size as dpkg-gencontrol computes it: KiB per file, rounded up, plus 1 per directory. */
function installedSize(root) {
  let kib = 0;
  const visit = (p) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      kib += 1;
      for (const name of readdirSync(p)) visit(join(p, name));
    } else kib += Math.ceil(st.size / 1024);
  };
  for (const name of readdirSync(root)) if (name !== 'DEBIAN') visit(join(root, name));
  return kib;
}

function md5sums(root) {
  return walk(root)
    .map((p) => relative(root, p))
    .filter((rel) => !rel.startsWith('DEBIAN/') && !rel.startsWith('etc/'))
    .map((rel) => `${createHash('md5').update(readFileSync(join(root, rel))).digest('hex')}  ${rel}\n`)
    .join('');
}

/** gzip -9n: maximum compression, no name, no timestamp. */
function gzip(buf) {
  return gzipSync(buf, { level: 9 });
}

/** debian/copyright (machine-readable): the template plus one paragraph per bundled npm package. */
function copyright(modules, nodePkg) {
  const template = readFileSync(join(HERE, 'copyright.in'), 'utf8');
  const known = new Set(['MIT', 'ISC']);
  const extra = new Map();
  const paragraphs = [];
  for (const name of readdirSync(modules).sort()) {
    const dir = join(modules, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const license = typeof pkg.license === 'string' ? pkg.license : fail(`${dir}/package.json: no "license" string`);
    const licenseFile = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = licenseFile ? readFileSync(join(dir, licenseFile), 'utf8') : '';
    if (!known.has(license) && !extra.has(license)) {
      if (!text) fail(`${dir}: licence ${license} has no licence file to quote in debian/copyright`);
      extra.set(license, text);
    }
    const holders = copyrightHolders(text) ?? [authorName(pkg.author) ?? `the ${name} contributors`];
    paragraphs.push(
      `Files: ${PREFIX}/node_modules/${name}/*\nCopyright: ${holders.join('\n ')}\nLicense: ${license}\nComment: npm package ${name} ${pkg.version}.\n`,
    );
  }
  const extraText = [...extra].map(([id, text]) => `\nLicense: ${id}\n${indent(text)}\n`).join('');
  return template
    .replace('@NODE_VERSION@', nodePkg.version)
    .replace('@NODE_PACKAGE@', nodePkg.name)
    .replace('@MODULES@', '\n' + paragraphs.join('\n'))
    .replace('@EXTRA_LICENSES@\n', extraText);
}

function copyrightHolders(text) {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => /^\s*copyright\s+(\(c\)|©|\d{4})/i.test(l));
  if (i < 0) return undefined;
  const first = lines[i].trim().replace(/^copyright\s+(\(c\)|©)?\s*/i, '').replace(/\\</g, '<').replace(/\\>/g, '>');
  if (!first.endsWith(':')) return [first];
  // "Copyright (c) 2011:" followed by one holder per line.
  const out = [];
  for (let j = i + 1; j < lines.length && lines[j].trim(); j++) out.push(`${first.slice(0, -1)} ${lines[j].trim()}`);
  return out.length > 0 ? out : undefined;
}

function authorName(author) {
  if (!author) return undefined;
  return typeof author === 'string' ? author : author.name;
}

/** Text as a copyright-format field continuation: each line indented, empty lines as " .". */
function indent(text) {
  return text
    .trim()
    .split(/\r?\n/)
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');
}

/** canihaz(1), from the CLI's own --help texts (run with the building Node on dist/cli.js). */
function manPage(version) {
  const cli = join(ROOT, 'dist', 'cli.js');
  const help = (args) => run(process.execPath, [cli, ...args]).trimEnd();
  const esc = (text) =>
    text
      .split('\n')
      .map((l) => l.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/, '\\&$1'))
      .join('\n');
  const block = (text) => `.nf\n${esc(text)}\n.fi`;
  const date = new Date(version.epoch * 1000).toISOString().slice(0, 10);
  const commands = ['run', 'check', 'daemon', 'report', 'replay', 'dashboard'].map((c) => `.SS canihaz ${c}\n${block(help([c, '--help']))}`).join('\n');
  return `.TH CANIHAZ 1 ${date} "canihaz ${version.upstream}" "User Commands"
.SH NAME
canihaz \\- capacity\\-test agent for fleets of servers
.SH SYNOPSIS
.B canihaz
.I command
.RI [ options ]
.SH DESCRIPTION
canihaz runs from cron once a minute (or as a systemd daemon or timer) on every host of a fleet and
does nothing until a tests file exists. Each line of the tests file names a test, how many times per
minute to run it, spread evenly over the minute, and where to send the results (StatsD or Graphite).
.PP
${block(help(['--help']))}
.SH COMMANDS
${commands}
.SH FILES
.TP
.I /etc/canihaz/tests.conf
The tests file (an example with every field explained: /etc/canihaz/tests.conf.example).
.TP
.I /etc/canihaz/canihaz.conf
Optional agent settings.
.TP
.I /etc/canihaz/stop
While it exists, nothing runs.
.TP
.I /etc/cron.d/canihaz
Runs canihaz once a minute as the user canihaz.
.TP
.I /run/canihaz
The lock slots.
.TP
.I /var/lib/canihaz
The state directory: the results journal (journal/, one file per UTC day, read by canihaz report,
replay and dashboard) and the compile cache (compile\\-cache/).
.SH SEE ALSO
.BR cron (8),
/usr/share/doc/canihaz/README.md.gz
`;
}

try {
  main();
} catch (err) {
  process.stderr.write(`build.mjs: ${err instanceof BuildError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
}
