import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

/**
 * Most files one copy monitors: each is read whole at every check, one after another; more
 * than this is a job for a file integrity checker, and a mistake (--monitor /) more often.
 */
export const MAX_MONITORED_FILES = 10_000;

export interface Walk {
  /** Regular files found, sorted; at most `max`. */
  readonly files: string[];
  /** What could not be walked, as `path: reason`. */
  readonly problems: string[];
  /** More regular files were there than `max`. */
  readonly overflow: boolean;
}

/**
 * The regular files at and under `roots`: directories recursively, symlinks neither followed nor
 * listed, other kinds (pipes, sockets, devices) skipped. Runs on libuv's thread pool, one
 * directory at a time.
 */
export async function walkFiles(roots: readonly string[], max = MAX_MONITORED_FILES): Promise<Walk> {
  const files = new Set<string>();
  const problems: string[] = [];
  let overflow = false;
  const visit = async (path: string): Promise<void> => {
    if (overflow) return;
    let st;
    try {
      st = await fsp.lstat(path);
    } catch (err) {
      problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    if (st.isFile()) {
      if (files.size >= max) overflow = true;
      else files.add(path);
      return;
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await fsp.readdir(path);
    } catch (err) {
      problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    for (const name of names.sort()) await visit(join(path, name));
  };
  for (const root of roots) await visit(root);
  return { files: [...files].sort(), problems, overflow };
}
