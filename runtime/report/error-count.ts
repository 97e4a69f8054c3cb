import type { Logger } from '../log.ts';

/**
 * The copy's logger, counting its error diagnostics by code (APPEND_FAILED, SEAL_FAILED,
 * REPORT_FAILED…) for the mailed report. Every failure the copy meets is logged once per attempt
 * with a code, so these counts are its write and seal errors without a hook in each stage.
 */
export function countingErrors(log: Logger): { readonly log: Logger; readonly counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  return {
    counts,
    log: {
      ...log,
      error(code, message) {
        counts[code] = (counts[code] ?? 0) + 1;
        log.error(code, message);
      },
    },
  };
}
