/**
 * Throwaway certificates for TLS tests, made by the `openssl` CLI into a temp dir (removed at exit):
 * a private CA; leaves it signed for LOCAL_NAMES (valid 365 days, and one expiring in 3 days); a
 * leaf it signed for another name only; and a self-signed leaf no one trusts. EC P-256 keys, so
 * making them all takes a few tens of ms.
 *
 * `testCerts()` returns undefined where no openssl CLI exists (tests skip, saying why), except under
 * CANIHAZ_E2E=1, where a missing tool is a failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate (with its key, for a server) as files and as PEM text. */
export interface TestCert {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/** The set of test certificates. */
export interface TestCerts {
  dir: string;
  /** The private CA: `certPath` is what a line's `ca=` names. */
  ca: TestCert;
  /** Signed by the CA for 127.0.0.1, ::1, localhost and target.example.test (LOCAL_NAMES), valid 365 days. */
  leaf: TestCert;
  /** Signed by the CA for LOCAL_NAMES, valid 3 days. */
  expiring: TestCert;
  /** Signed by the CA for DNS:other.example only: a name mismatch for 127.0.0.1 and localhost. */
  mismatch: TestCert;
  /** Self-signed for LOCAL_NAMES: untrusted. */
  selfSigned: TestCert;
}

/** Why testCerts() gave nothing (for skip messages). */
export const NO_OPENSSL = 'no openssl CLI on PATH (set CANIHAZ_E2E=1 to make this a failure)';

/** What the CA's leaves and the self-signed one are for. */
export const LOCAL_NAMES = ['127.0.0.1', '::1', 'localhost', 'target.example.test'] as const;

const CONFIG = ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = canihaz test', '[v3_ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', ''].join('\n');
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let made: TestCerts | undefined;
let tried = false;

/** The certificates (made once per process), or undefined without openssl (outside CANIHAZ_E2E=1). */
export function testCerts(): TestCerts | undefined {
  if (tried) return made;
  tried = true;
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  } catch (err) {
    if (process.env.CANIHAZ_E2E === '1') throw new Error(`CANIHAZ_E2E=1 but openssl cannot run: ${String(err)}`, { cause: err });
    return undefined;
  }
  made = generate();
  return made;
}

function generate(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'canihaz-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
  writeFileSync(file('openssl.cnf'), CONFIG);
  const read = (name: string): TestCert => ({
    certPath: file(`${name}.pem`),
    keyPath: file(`${name}.key`),
    cert: readFileSync(file(`${name}.pem`), 'utf8'),
    key: readFileSync(file(`${name}.key`), 'utf8'),
  });

  openssl('req', '-x509', '-config', file('openssl.cnf'), '-extensions', 'v3_ca', ...EC, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '3650', '-subj', '/CN=canihaz test CA');
  let serial = 1000;
  const signed = (name: string, days: number, san: string) => {
    writeFileSync(
      file(`${name}.ext`),
      ['basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth', `subjectAltName = ${san}`, 'authorityKeyIdentifier = keyid', ''].join('\n'),
    );
    openssl('req', '-new', '-config', file('openssl.cnf'), ...EC, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', String(++serial), '-days', String(days), '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
    return read(name);
  };
  const local = LOCAL_NAMES.map((n) => (n.includes(':') || /^\d/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const leaf = signed('leaf', 365, local);
  const expiring = signed('expiring', 3, local);
  const mismatch = signed('mismatch', 365, 'DNS:other.example');
  openssl('req', '-x509', '-config', file('openssl.cnf'), ...EC, '-keyout', file('self.key'), '-out', file('self.pem'), '-days', '365', '-subj', '/CN=localhost', '-addext', `subjectAltName = ${local}`);
  return { dir, ca: read('ca'), leaf, expiring, mismatch, selfSigned: read('self') };
}
