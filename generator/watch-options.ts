import { lstatSync } from 'node:fs';
import { basename, dirname, normalize } from 'node:path';
import type { BakedWatch } from '../runtime/baked.ts';
import { errnoCode, usageError } from '../runtime/errors.ts';
import type { RawEncrypterOptions } from './options.ts';

const WATCH_FROM = ['start', 'end'] as const;

/**
 * --watch-file, --watch-from, --consume: null when no file is watched. Paths must be absolute
 * (the copy runs from anywhere); globs only in the last part; never the copy's own log (or a
 * file beside it named after it) or its pipe, and never a FIFO: a pipe is read with --pipe.
 */
export function resolveWatch(raw: RawEncrypterOptions, own: { readonly pipe: string | null; readonly output: string; readonly save: string }): BakedWatch | null {
  if (raw.watchFile.length === 0) {
    if (raw.watchFrom !== undefined) throw usageError('WATCH_OPTION_ALONE', '--watch-from needs --watch-file');
    if (raw.consume === true) throw usageError('WATCH_OPTION_ALONE', '--consume needs --watch-file');
    return null;
  }
  const from = raw.watchFrom ?? 'end';
  if (!(WATCH_FROM as readonly string[]).includes(from)) throw usageError('BAD_CHOICE', `--watch-from must be start or end, got ${JSON.stringify(from)}`);
  const files = raw.watchFile.map((value) => checkWatchPath(value, own));
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file)) throw usageError('SAME_PATH', `--watch-file ${JSON.stringify(file)} is given twice`);
    seen.add(file);
  }
  return { files, from: from as BakedWatch['from'], consume: raw.consume === true };
}

function checkWatchPath(value: string, own: { readonly pipe: string | null; readonly output: string; readonly save: string }): string {
  if (!value.startsWith('/')) throw usageError('WATCH_PATH_RELATIVE', `--watch-file must be an absolute path, got ${JSON.stringify(value)}`);
  if (/[\0\n]/.test(value)) throw usageError('BAD_PATH', '--watch-file must not contain NUL or newline characters');
  const path = normalize(value);
  if (/[*?[\]]/.test(dirname(path))) throw usageError('WATCH_GLOB', `--watch-file: * and ? may only be in the last part of the path (the file name), got ${JSON.stringify(value)}`);
  if (/[[\]]/.test(basename(path))) throw usageError('WATCH_GLOB', `--watch-file: only * and ? are wildcards; [ and ] are not supported, got ${JSON.stringify(value)}`);
  if (path === own.pipe || path === own.save || path.startsWith(own.output)) {
    throw usageError('WATCH_OWN_FILE', `--watch-file ${JSON.stringify(value)} is the copy's own pipe, log or program: it would read itself`);
  }
  if (!/[*?]/.test(basename(path))) {
    let st;
    try {
      st = lstatSync(path);
    } catch (err) {
      // Missing is fine (the copy waits for it to appear); unreadable here is the copy's business.
      if (errnoCode(err) !== 'ENOENT') return path;
    }
    if (st !== undefined && !st.isFile() && !st.isSymbolicLink()) {
      throw usageError('WATCH_NOT_FILE', `--watch-file ${JSON.stringify(value)} is not a regular file: a named pipe is read with --pipe, a directory is not followed`);
    }
  }
  return path;
}
