/**
 * The `ca=` key of the tls and http probes: a PEM file of certificates added to the trusted roots
 * (for a private CA). The file is read when the config line is parsed, so `canihaz check` reports a
 * missing or wrong file with the field name instead of every execution failing later.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { SecureContext } from 'node:tls';
import { quoteValue } from '../redact.js';
import type { Parsed } from './params.js';

/** A CA file as a line names it and the certificates it holds; plain data, so two lines' options compare. */
export interface CaFile {
  /** The absolute path the line gave. */
  path: string;
  /** Its certificate blocks only (anything else in the file is dropped), joined by newlines. */
  pem: string;
}

/** Largest CA file read, bytes: a bundle of a few hundred certificates. A larger file is a mistake. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads and checks the PEM file a `ca=` value names. Never throws; a message never quotes the
 * file's content (a key file named by mistake stays unseen). Opened with O_NONBLOCK and checked
 * with fstat first, so a FIFO or device is refused instead of hanging the parse.
 */
export function readCaFile(raw: string): Parsed<CaFile> {
  const path = raw.trim();
  if (path === '') return { error: 'expected the path of a PEM file, got nothing' };
  if (!isAbsolute(path)) return { error: `must be an absolute path, got ${quoteValue(path)}` };
  let text: string;
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const info = fstatSync(fd);
    if (!info.isFile()) return { error: `${quoteValue(path)} is not a regular file` };
    if (info.size > MAX_CA_FILE_BYTES) return { error: `${quoteValue(path)} is larger than ${MAX_CA_FILE_BYTES / 1024} KiB; is it a CA file?` };
    text = readFileSync(fd, 'latin1');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { error: `cannot read ${quoteValue(path)}: ${typeof code === 'string' ? code : String(err)}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) return { error: `${quoteValue(path)} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)` };
  // node:crypto and node:tls are loaded only by a line that names a CA file: an http test needs
  // neither, and loading them costs every copy's start-up a few ms.
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return { error: `${quoteValue(path)}: certificate ${i + 1} of ${blocks.length} cannot be parsed` };
    }
  }
  return { value: { path, pem: blocks.join('\n') } };
}

/** One context per distinct CA text: building one parses every root certificate (a few ms). */
const contexts = new Map<string, SecureContext>();

/**
 * A TLS context that trusts Node's bundled roots plus `pem`, built once per distinct `pem` and
 * shared by every connection that names it. Unlike Node's default store, it does not include the
 * certificates of NODE_EXTRA_CA_CERTS (an explicit `ca` replaces that store).
 */
export function secureContextWithCa(pem: string): SecureContext {
  let context = contexts.get(pem);
  if (!context) {
    const tls = process.getBuiltinModule('node:tls');
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, pem] });
    contexts.set(pem, context);
  }
  return context;
}
