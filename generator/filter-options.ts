import { lstatSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { BakedFilters, BakedMonitor, BakedReport } from '../runtime/baked.ts';
import { usageError } from '../runtime/errors.ts';
import { patternProblem } from '../runtime/filters/rules.ts';
import { MAX_MONITORED_FILES, walkFiles } from '../runtime/monitor/walk.ts';
import type { RawEncrypterOptions } from './options.ts';
import { parseDuration, resolveMail } from './rotation-options.ts';

/** Each is a sealed record or a mail: more often than this is noise, less often than this proves little. */
const MONITOR_EVERY = { minMs: 1000, maxMs: 7 * 86_400_000, text: '1s to 7d' };
const REPORT_EVERY = { minMs: 60_000, maxMs: 30 * 86_400_000, text: '1m to 30d' };

/** --ignore / --keep: each pattern checked here, once; the copy compiles them as given. */
export function resolveFilters(raw: RawEncrypterOptions): BakedFilters | null {
  if (raw.ignore.length + raw.keep.length === 0) return null;
  for (const [option, list] of [['--ignore', raw.ignore], ['--keep', raw.keep]] as const) {
    for (const pattern of list) {
      const problem = patternProblem(pattern);
      if (problem !== null) throw usageError('BAD_FILTER', `${option} ${JSON.stringify(pattern)}: ${problem}`);
    }
  }
  return { ignore: [...raw.ignore], keep: [...raw.keep] };
}

/**
 * --monitor and --monitor-every. Paths are made absolute and must exist; the files under them
 * are counted now, so a --monitor / is refused here rather than at the copy's first check.
 */
export async function resolveMonitor(raw: RawEncrypterOptions, cwd: string, outputPath: string): Promise<BakedMonitor | null> {
  if (raw.monitor.length === 0) {
    if (raw.monitorEvery !== undefined) throw usageError('UNUSED_OPTION', '--monitor-every goes with --monitor PATH');
    return null;
  }
  const paths = [...new Set(raw.monitor.map((p) => {
    if (p === '' || /[\n\0]/.test(p)) throw usageError('BAD_PATH', '--monitor needs a path without NUL or newline characters');
    return resolvePath(cwd, p);
  }))];
  for (const path of paths) {
    let st;
    try {
      st = lstatSync(path);
    } catch (err) {
      throw usageError('MONITOR_PATH', `--monitor ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (st.isSymbolicLink()) throw usageError('MONITOR_PATH', `--monitor ${JSON.stringify(path)} is a symlink: symlinks are not followed; name the file or directory it points to`);
    if (!st.isFile() && !st.isDirectory()) throw usageError('MONITOR_PATH', `--monitor ${JSON.stringify(path)} is neither a regular file nor a directory`);
  }
  const own = paths.find((p) => outputPath === p || outputPath.startsWith(`${p}/`) || p === '/');
  if (own !== undefined) {
    // The log grows with every block: each check would record it changed, sealing a record about itself.
    throw usageError('MONITOR_OWN_LOG', `--monitor ${JSON.stringify(own)} holds the encrypted log ${JSON.stringify(outputPath)}, which changes with every block; monitor narrower paths`);
  }
  const walk = await walkFiles(paths, MAX_MONITORED_FILES);
  if (walk.overflow) {
    throw usageError('MONITOR_TOO_MANY', `--monitor: more than ${MAX_MONITORED_FILES} regular files under ${paths.map((p) => JSON.stringify(p)).join(', ')}; each is read whole at every check: name narrower paths`);
  }
  const everyMs = parseBounded('--monitor-every', raw.monitorEvery ?? '1h', MONITOR_EVERY);
  return { paths, everyMs };
}

/** --report-every with the mail options it needs. */
export function resolveReport(raw: RawEncrypterOptions): BakedReport | null {
  if (raw.reportEvery === undefined) return null;
  const everyMs = parseBounded('--report-every', raw.reportEvery, REPORT_EVERY);
  return { everyMs, mail: resolveMail(raw, '--report-every') };
}

function parseBounded(option: string, value: string, bounds: { minMs: number; maxMs: number; text: string }): number {
  const ms = parseDuration(option, value);
  if (ms < bounds.minMs || ms > bounds.maxMs) throw usageError('BAD_DURATION', `${option} must be between ${bounds.text}, got ${JSON.stringify(value)}`);
  return ms;
}
