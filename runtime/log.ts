import type { LogLevel } from './baked.ts';

/**
 * The copy's own diagnostics, on stderr. Callers pass codes, counts, paths and errno names:
 * never bytes read from the pipe (invariant 2).
 */
export interface Logger {
  error(code: string, message: string): void;
  warn(code: string, message: string): void;
  info(code: string, message: string): void;
  debug(code: string, message: string): void;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function createLogger(level: LogLevel, write: (line: string) => void): Logger {
  const at = (lvl: LogLevel) => (code: string, message: string) => {
    if (RANK[lvl] <= RANK[level]) write(`paranoid-pipes[${process.pid}] ${lvl} ${code}: ${message}\n`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
