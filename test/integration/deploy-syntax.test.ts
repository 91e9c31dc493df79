/**
 * The Puppet module and the Chef cookbook under deploy/, checked without root and without changing
 * the machine: `puppet parser validate`, `puppet-lint`, `ruby -c` on every Ruby file and ERB template,
 * the EPP templates rendered and the result accepted by the repo's own `canihaz check`, and a broken
 * copy of each kind of file refused, so every check is seen to fail when what it checks breaks.
 *
 * Needs puppet, puppet-lint and ruby (Debian: `apt-get install puppet puppet-lint ruby`). Without them
 * each check is skipped with the reason; under CANIHAZ_E2E=1 (CI) a missing tool fails it instead.
 * Chef itself is not installed anywhere here: the cookbook is checked for Ruby syntax only.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTING_KEYS } from '../../src/config/settings.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PUPPET_DIR = join(ROOT, 'deploy/puppet');
const MODULE = join(PUPPET_DIR, 'canihaz');
const COOKBOOK = join(ROOT, 'deploy/chef/canihaz');
const CLI = join(ROOT, 'dist/cli.js');
const E2E_REQUIRED = process.env.CANIHAZ_E2E === '1';

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v '${cmd}'`], { stdio: 'ignore' }).status === 0;
}

/** `it`, or `it.skip` with the reason in the title (and on stderr) when a tool is missing here. */
function itWith(tools: string[], title: string, fn: () => void, timeout = 30_000): void {
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length === 0 || E2E_REQUIRED) {
    it(title, fn, timeout);
    return;
  }
  const reason = `${missing.join(', ')} not installed (apt-get install puppet puppet-lint ruby); CI sets CANIHAZ_E2E=1 and fails instead`;
  console.warn(`SKIPPED "${title}": ${reason}`);
  it.skip(`${title} [skipped: ${reason}]`, fn);
}

interface Ran {
  status: number | null;
  /** Standard output alone (a rendered template). */
  stdout: string;
  /** Standard output and error, for messages. */
  out: string;
}

function run(cmd: string, args: string[], input?: string): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000, cwd: ROOT });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  // Facter complains about /proc/1/environ in containers; that noise is not ours.
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !l.includes('Facter: Permission denied'))
    .join('\n');
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${stderr}` };
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'canihaz-deploy-'));
  // Facts for `puppet epp render`, so it needs no facter run of its own.
  writeFileSync(join(tmp, 'facts.json'), '{}\n');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the module (or cookbook) under tmp, to break without touching the repo. */
function copyOf(src: string, name: string): string {
  const dest = join(tmp, name, 'canihaz');
  rmSync(join(tmp, name), { recursive: true, force: true });
  mkdirSync(join(tmp, name), { recursive: true });
  cpSync(src, dest, { recursive: true });
  return dest;
}

function validatePp(files: string[]): Ran {
  return run('puppet', ['parser', 'validate', ...files]);
}

function rubyCheck(file: string): Ran {
  return file.endsWith('.erb')
    ? run('sh', ['-c', 'erb -x -T - "$1" | ruby -c', 'sh', file])
    : run('ruby', ['-c', file]);
}

/** Renders one EPP template of the module with `values` (Puppet hash syntax). */
function renderEpp(template: string, values: string): Ran {
  return run('puppet', ['epp', 'render', '--facts', join(tmp, 'facts.json'), join(MODULE, 'templates', template), '--values', values]);
}

describe('Puppet module deploy/puppet/canihaz', () => {
  const manifests = filesUnder(MODULE, '.pp');

  it('has the class, the test define and the freeze class', () => {
    expect(manifests.map((f) => relative(MODULE, f))).toEqual(['manifests/freeze.pp', 'manifests/init.pp', 'manifests/test.pp']);
    expect((JSON.parse(readFileSync(join(MODULE, 'metadata.json'), 'utf8')) as { name: unknown }).name).toBe('canihaz-canihaz');
  });

  itWith(['puppet'], 'every manifest passes puppet parser validate, and a broken one does not', () => {
    const ok = validatePp(manifests);
    expect(ok.status, ok.out).toBe(0);

    const copy = copyOf(MODULE, 'broken-parse');
    const init = join(copy, 'manifests/init.pp');
    writeFileSync(init, readFileSync(init, 'utf8').replace("$run_with = 'cron',", "$run_with = 'cron'"));
    const bad = validatePp([init]);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toContain('init.pp');
  });

  itWith(['puppet'], 'both EPP templates pass puppet epp validate', () => {
    const r = run('puppet', ['epp', 'validate', ...filesUnder(MODULE, '.epp')]);
    expect(r.status, r.out).toBe(0);
  });

  itWith(['puppet-lint'], 'puppet-lint --fail-on-warnings finds nothing, and finds a warning put in a copy', () => {
    const ok = run('puppet-lint', ['--fail-on-warnings', MODULE]);
    expect(ok.status, ok.out).toBe(0);

    const copy = copyOf(MODULE, 'broken-lint');
    const freeze = join(copy, 'manifests/freeze.pp');
    // A double-quoted string without a variable: a lint warning, still valid Puppet.
    writeFileSync(freeze, readFileSync(freeze, 'utf8').replace("Enum['present', 'absent'] $ensure = 'present'", 'Enum[\'present\', \'absent\'] $ensure = "present"'));
    const bad = run('puppet-lint', ['--fail-on-warnings', copy]);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toMatch(/freeze\.pp.*double quoted string/);
  });

  it("lists exactly the agent's setting keys, and ships the repo's cron file unchanged", () => {
    const init = readFileSync(join(MODULE, 'manifests/init.pp'), 'utf8');
    const block = /Hash\[\s*Enum\[([^\]]+)\]/.exec(init);
    expect(block, 'the settings Enum in init.pp').not.toBeNull();
    const keys = [...block![1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
    expect(keys.sort()).toEqual([...SETTING_KEYS].sort());
    const cron = readFileSync(join(ROOT, 'conf/canihaz.cron'), 'utf8');
    expect(readFileSync(join(MODULE, 'files/canihaz.cron'), 'utf8')).toBe(cron);
    expect(readFileSync(join(COOKBOOK, 'files/canihaz.cron'), 'utf8')).toBe(cron);
  });

  itWith(
    ['puppet'],
    'the rendered settings file and test file pass canihaz check, with | escaped and header repeated',
    () => {
      expect(existsSync(CLI), `${CLI} is missing: run npm run build`).toBe(true);
      const testsDir = join(tmp, 'rendered', 'tests.d');
      mkdirSync(testsDir, { recursive: true, mode: 0o755 });

      const settings = renderEpp(
        'canihaz.conf.epp',
        `{ settings => { 'statsd' => '127.0.0.1:8125', 'phase' => false, 'max_frequency' => 1200, 'config' => '${testsDir}' } }`,
      );
      expect(settings.status, settings.out).toBe(0);
      expect(settings.stdout).toContain(`config = ${testsDir}\nmax_frequency = 1200\nphase = off\nstatsd = 127.0.0.1:8125\n`);
      const settingsFile = join(tmp, 'rendered', 'canihaz.conf');
      writeFileSync(settingsFile, settings.stdout, { mode: 0o644 });

      const test = renderEpp(
        'test.conf.epp',
        `{ test_name => 'web', test_type => 'http', frequency => 600, destinations => ['statsd', 'console'],
           options => { 'url' => ['http://127.0.0.1:8080/search?q=a|b'], 'header' => ['Accept: text/plain', 'X-Token: t0k3n'], 'timeout' => ['2s'] } }`,
      );
      expect(test.status, test.out).toBe(0);
      expect(test.stdout.split('\n')).toContain(
        'web|http|600|statsd,console|url=http://127.0.0.1:8080/search?q=a%7Cb|header=Accept: text/plain|header=X-Token: t0k3n|timeout=2s',
      );
      writeFileSync(join(testsDir, 'web.conf'), test.stdout, { mode: 0o644 });

      // No --config: check finds the tests directory through the rendered settings file.
      const good = run(process.execPath, [CLI, 'check', '--settings', settingsFile]);
      expect(good.status, good.out).toBe(0);
      expect(good.out).toContain('ok: 1 test in 1 file');

      // The same template with url missing: check refuses it (exit 1), naming the file and line.
      const bad = renderEpp(
        'test.conf.epp',
        "{ test_name => 'nourl', test_type => 'http', frequency => 60, destinations => ['statsd'], options => { 'method' => ['GET'] } }",
      );
      expect(bad.status, bad.out).toBe(0);
      writeFileSync(join(testsDir, 'nourl.conf'), bad.stdout, { mode: 0o644 });
      const refused = run(process.execPath, [CLI, 'check', '--settings', settingsFile]);
      expect(refused.status, refused.out).toBe(1);
      expect(refused.out).toContain(`${join(testsDir, 'nourl.conf')}:2: url:`);
    },
    60_000,
  );

  itWith(['puppet'], 'canihaz::test refuses a line break in a value and names the key, not the value', () => {
    const r = run('puppet', [
      'apply',
      '--noop',
      // Puppet's own state (reports, facts cache) in tmp, not /var/cache/puppet.
      ...['confdir', 'vardir', 'logdir', 'rundir', 'codedir'].map((d) => `--${d}=${join(tmp, 'puppet', d)}`),
      '--modulepath',
      PUPPET_DIR,
      '-e',
      `class { 'canihaz': manage_units => false }
       canihaz::test { 'web': frequency => 60, destination => 'statsd',
         options => { 'url' => 'http://127.0.0.1/', 'header' => Sensitive("X-Token: s3cret\\nevil|http|60|statsd|url=http://x/") } }`,
    ]);
    expect(r.status, r.out).not.toBe(0);
    expect(r.out).toContain('canihaz::test[web]: options header: a value must not contain a line break');
    expect(r.out).not.toContain('s3cret');
  });
});

describe('Chef cookbook deploy/chef/canihaz (Ruby syntax only: Chef is not installed here)', () => {
  const rubyFiles = [...filesUnder(COOKBOOK, '.rb'), ...filesUnder(join(MODULE, 'lib'), '.rb')];
  const templates = filesUnder(COOKBOOK, '.erb');

  it('has the recipe, both resources, attributes, metadata and templates', () => {
    expect(rubyFiles.map((f) => relative(ROOT, f))).toEqual(
      expect.arrayContaining([
        'deploy/chef/canihaz/metadata.rb',
        'deploy/chef/canihaz/recipes/default.rb',
        'deploy/chef/canihaz/resources/test.rb',
        'deploy/chef/canihaz/resources/freeze.rb',
        'deploy/chef/canihaz/attributes/default.rb',
        'deploy/puppet/canihaz/lib/facter/canihaz_systemd.rb',
      ]),
    );
    expect(templates.length).toBeGreaterThan(0);
    expect(readFileSync(join(COOKBOOK, 'resources/test.rb'), 'utf8')).toContain("verify '/usr/bin/canihaz check --config %{path}'");
  });

  itWith(['ruby'], 'every .rb passes ruby -c, and a broken one does not', () => {
    for (const file of rubyFiles) {
      const r = rubyCheck(file);
      expect(r.status, `${relative(ROOT, file)}: ${r.out}`).toBe(0);
    }
    const copy = copyOf(COOKBOOK, 'broken-ruby');
    const recipe = join(copy, 'recipes/default.rb');
    writeFileSync(recipe, readFileSync(recipe, 'utf8').replace(/\nend\n(?![\s\S]*\nend\n)/, '\n'));
    expect(rubyCheck(recipe).status).not.toBe(0);
  });

  itWith(['ruby', 'erb'], 'every ERB template compiles (erb -x | ruby -c), and a broken one does not', () => {
    for (const file of templates) {
      const r = rubyCheck(file);
      expect(r.status, `${relative(ROOT, file)}: ${r.out}`).toBe(0);
    }
    const copy = copyOf(COOKBOOK, 'broken-erb');
    const tpl = join(copy, 'templates/canihaz.conf.erb');
    writeFileSync(tpl, readFileSync(tpl, 'utf8').replace('<% end -%>', ''));
    expect(rubyCheck(tpl).status).not.toBe(0);
  });
});
