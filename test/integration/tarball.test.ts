import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// What `npm pack` ships (and what a Debian package built from dist/ ships with it): the license,
// the CLI, no tests or benchmarks, and no source map pointing at a file that is not there.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackEntry {
  path: string;
  size: number;
}

/** The files `npm pack` would put in the tarball, from the built dist/ as it is (no rebuild). */
async function packedFiles(): Promise<string[]> {
  // --ignore-scripts: `prepare` would rebuild dist/ under the feet of the other test files running now.
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 60_000,
  });
  const [pack] = JSON.parse(stdout) as [{ files: PackEntry[] }];
  return pack.files.map((f) => f.path);
}

describe('the npm tarball', () => {
  it('ships LICENSE, README and dist/cli.js, and nothing from test/ or bench/', async () => {
    expect(existsSync(join(ROOT, 'dist/cli.js')), 'dist/cli.js is built (npm run build)').toBe(true);
    const files = await packedFiles();
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    expect(files).toContain('dist/cli.js');
    expect(files.filter((f) => /^(test|bench|coverage|\.ci)\//.test(f))).toEqual([]);
    // The license is the one package.json names.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the canihaz authors\n/);
  });

  it('every source map and every sourceMappingURL resolves to a file in the tarball', async () => {
    const files = await packedFiles();
    const shipped = new Set(files);
    const dangling: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { sourceRoot?: string; sources: string[] };
      for (const source of map.sources) {
        const target = normalize(join(dirname(file), map.sourceRoot ?? '', source));
        if (!shipped.has(target)) dangling.push(`${file} → ${target}`);
      }
    }
    for (const file of files.filter((f) => f.endsWith('.js'))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(ROOT, file), 'utf8'))?.[1];
      if (url === undefined || url.startsWith('data:')) continue;
      const target = normalize(join(dirname(file), url));
      if (!shipped.has(target)) dangling.push(`${file} → ${target}`);
    }
    expect(dangling).toEqual([]);
  });
});
