import { silentLogger, type Logger } from '../../src/log.js';

/** One warning as the code under test logged it. */
export interface CapturedWarning {
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps its warnings (and drops everything else). */
export function capturingLogger(): Logger & { warnings: CapturedWarning[] } {
  const warnings: CapturedWarning[] = [];
  return { ...silentLogger, warnings, warn: (msg, fields = {}) => void warnings.push({ msg, fields }) };
}
