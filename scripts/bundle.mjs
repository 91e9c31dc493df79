#!/usr/bin/env node
// Bundles the built CLI (after `tsc -p tsconfig.build.json`, which type-checks and writes dist/*.js):
//
//   dist/chunks/main.cjs   the program (src/cli.ts and everything it imports, dependencies included)
//                          as one CommonJS file: one read and one compile instead of hundreds of module
//                          loads; a module imported with import() is evaluated only when it is.
//   dist/cli.js            the entry (src/cli/entry.ts): V8 flags, the compile cache, then the bundle.
//                          It replaces tsc's dist/cli.js; a later tsc-only build puts that back, and
//                          dist/cli.js then runs the separate modules as before (never a stale bundle).
//
//   node scripts/bundle.mjs        (`npm run build` runs it after tsc)
//
// Each module's `import.meta.url` becomes the URL its tsc-built file has (dist/<path>.js), so every
// URL resolved from it (../package.json, ../cli.js) is what it is without the bundle. External:
// node-cron, which the daemon alone loads and which finds its own files by import.meta.url.
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const BUNDLE = join(DIST, 'chunks', 'main.cjs');

/**
 * Rewrites, in our sources, `import.meta.url` to the URL of the module's tsc-built file, and an
 * `import(x)` of a computed specifier (a scenario module's file URL) to `__canihazImport(x)`: the
 * import() of the entry, an ES module, handed to the bundle. The bundle is compiled as a script from
 * a code cache, and on Node 20 a dynamic import() in a script deserialized from a cache has no loader
 * to go to ("A dynamic import callback was not specified").
 */
const DYNAMIC_IMPORT = /\bimport\((?![\s]*['"`])/g;
const moduleUrls = {
  name: 'canihaz-module-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith(SRC + '/')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url') && !DYNAMIC_IMPORT.test(text)) return undefined;
      const asBuilt = relative(SRC, args.path).replace(/\.ts$/, '.js');
      const contents = text
        .replaceAll('import.meta.url', `__canihazModuleUrl(${JSON.stringify(asBuilt)})`)
        // Only code: a comment's "import()" is left alone (a line whose text starts with * or //).
        .split('\n')
        .map((line) => (/^\s*(\*|\/\/)/.test(line) ? line : line.replace(DYNAMIC_IMPORT, '__canihazImport(')))
        .join('\n');
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * zod's index evaluates every module it has once anything of it is used: 48 locales (only English is
 * ever used: schemas.js sets it itself) and the JSON Schema importer (unused) are left out, which
 * halves zod's part of the bundle and its start-up (12 ms → 4 ms on the development machine).
 */
const zodSlim = {
  name: 'canihaz-zod-slim',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: 'js',
    }));
    build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]classic[\\/]from-json-schema\.js$/ }, () => ({
      contents: 'export function fromJSONSchema() { throw new Error("zod\'s fromJSONSchema is not in the canihaz bundle"); }',
      loader: 'js',
    }));
  },
};

/**
 * undici's client loads its HTTP/2 half (and with it Node's http2 module, for its constants) when it
 * is loaded itself; the probes speak HTTP/1.1 unless a server negotiates h2 over TLS. The require
 * becomes a call on first use. Should undici change that line, the bundle still builds, and says so.
 */
const H2_REQUIRE = "const connectH2 = require('./client-h2.js')";
const undiciLazyH2 = {
  name: 'canihaz-undici-lazy-h2',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(H2_REQUIRE)) {
        console.warn(`${relative(ROOT, args.path)}: no \`${H2_REQUIRE}\` line any more: its HTTP/2 half is loaded with it`);
        return undefined;
      }
      const lazy = "let h2; const connectH2 = (client, socket) => (h2 ??= require('./client-h2.js'))(client, socket)";
      return { contents: text.replace(H2_REQUIRE, lazy), loader: 'js' };
    });
  },
};

await esbuild.build({
  entryPoints: [join(SRC, 'cli.ts')],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['node-cron'],
  define: { __CANIHAZ_BUNDLED__: 'true' },
  banner: {
    js: 'var __canihazModuleUrl = (p) => require("node:url").pathToFileURL(require("node:path").join(__dirname, "..", p)).href;',
  },
  plugins: [moduleUrls, zodSlim, undiciLazyH2],
  // Whitespace and comments out, constants folded; names kept, so an internal error's stack still reads.
  // Comments hold the only non-ASCII text: without them the source is one-byte, which V8 reads and
  // hashes at twice the speed (1.8 MB two-byte took 15-30 ms to read; 1.3 MB one-byte, 2-3 ms).
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  legalComments: 'none',
  logLevel: 'warning',
});
// The entry compiles the bundle inside a function wrapper, where a hashbang line is a syntax error.
const program = readFileSync(BUNDLE, 'utf8').replace(/^#!.*\n/, '');
writeFileSync(BUNDLE, program);
// esbuild makes an output with a hashbang executable; the bundle is a module, not a program.
chmodSync(BUNDLE, 0o644);
if (/\bimport\(/.test(program)) console.warn(`${relative(ROOT, BUNDLE)} still has an import(): it fails once the bundle runs from its code cache`);
if (/[^\x00-\x7f]/.test(program)) console.warn(`${relative(ROOT, BUNDLE)} is not ASCII: V8 holds it as a two-byte string, slower to load`);

const bundleId = createHash('sha256').update(program).digest('hex').slice(0, 16);
const entry = join(DIST, 'cli.js');
await esbuild.build({
  entryPoints: [join(SRC, 'cli', 'entry.ts')],
  outfile: entry,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  define: { __CANIHAZ_BUNDLE_ID__: JSON.stringify(bundleId) },
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(entry, 0o755);
// tsc's own compile of the entry is superseded by dist/cli.js; left behind it is a second, unused
// script with a hashbang in every package (lintian: script-not-executable).
rmSync(join(DIST, 'cli', 'entry.js'), { force: true });
const size = (f) => `${(readFileSync(f).length / 1024).toFixed(0)} KiB`;
console.log(`bundled ${relative(ROOT, BUNDLE)} (${size(BUNDLE)}, id ${bundleId}) and ${relative(ROOT, entry)} (${size(entry)})`);
