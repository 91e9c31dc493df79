/**
 * Failure classification shared by network probes: an error from a socket, a TLS handshake, a
 * resolver or undici becomes one of the shared reasons (`timeout`, `refused`, `dns`, `tls`, `reset`,
 * `other`), from its `code` and those of everything it wraps.
 */
import type { FailureReason } from '../events.js';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
/**
 * OpenSSL certificate-verification codes (as Node names them) that carry no `CERT` in their name;
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE is what a private CA's certificate or a missing intermediate gives.
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
]);

/** Why a network operation failed, from the error's `code` (or those of its causes): the shared reasons. */
export function classifyNetError(err: unknown): FailureReason {
  const codes = errorCodes(err);
  const has = (test: (code: string) => boolean) => codes.some(test);
  if (has((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (has((c) => c === 'ECONNREFUSED')) return 'refused';
  if (has((c) => DNS_CODES.has(c))) return 'dns';
  if (has(isTlsCode) || isOpenSslError(err)) return 'tls';
  if (has((c) => RESET_CODES.has(c))) return 'reset';
  return 'other';
}

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT') || TLS_VERIFY_CODES.has(code);
}

/** OpenSSL errors carry `library` (e.g. "SSL routines") even when their code is generic. */
function isOpenSslError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'library' in err && typeof err.library === 'string';
}

/** The `code` of an error and of everything it wraps (`cause`, AggregateError `errors`). */
function errorCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const codes: string[] = [];
  if ('code' in err && typeof err.code === 'string') codes.push(err.code);
  if ('cause' in err) codes.push(...errorCodes(err.cause, depth + 1));
  if (err instanceof AggregateError) for (const inner of err.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}
