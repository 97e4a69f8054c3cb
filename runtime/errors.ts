/**
 * The one error type of paranoid-pipes. Every error a user can meet carries a stable `code`
 * (tests assert on it) and the process exit code it maps to. Messages never contain logged
 * plaintext: they name options, paths and reasons only.
 */
export const EXIT = {
  ok: 0,
  /** An operation failed: I/O, gpg, or (decrypt) some blocks could not be read. */
  failed: 1,
  /** An option or argument is invalid. */
  usage: 2,
  /** Refused for safety: secret key, symlink or foreign file at a path, file exists without --force. */
  refused: 3,
  /** A bug in paranoid-pipes itself (EX_SOFTWARE). */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class PipesError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode = EXIT.failed, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipesError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export const usageError = (code: string, message: string): PipesError => new PipesError(code, message, EXIT.usage);
export const refusal = (code: string, message: string): PipesError => new PipesError(code, message, EXIT.refused);

/** The errno code of a Node system error, or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** One line for stderr: user errors without a stack, anything unexpected with one. */
export function describeFailure(err: unknown, program: string): { text: string; exitCode: ExitCode } {
  if (err instanceof PipesError) {
    return { text: `${program}: error [${err.code}]: ${err.message}`, exitCode: err.exitCode };
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    text: `${program}: internal error (please report this with the lines below)\n${stack}`,
    exitCode: EXIT.internal,
  };
}
