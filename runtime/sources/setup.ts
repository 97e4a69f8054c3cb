import { lstatSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BakedOptions } from '../baked.ts';
import { COPY_LIMITS } from '../copy-limits.ts';
import type { WriterMarks } from '../writer.ts';
import { FileWatch } from './file-watch.ts';
import { PositionStore } from './positions.ts';
import { SessionDir } from './session-dir.ts';
import type { SourceGroup } from './source.ts';

export interface CopySources {
  /** What the session reads besides its pipe. */
  readonly groups: SourceGroup[];
  /** For the writer: watched files' positions follow what is durable. */
  readonly marks: WriterMarks | null;
}

/**
 * The sources of a copy besides its pipe (--watch-file, --session-dir). Made after the privilege
 * drop: the position file and the session directory belong to the run-as user, like the log.
 * Throws a refusal when the session directory cannot be the copy's.
 */
export function copySources(baked: BakedOptions, warn: (why: string) => void): CopySources {
  const groups: SourceGroup[] = [];
  let marks: WriterMarks | null = null;
  if (baked.watch !== undefined && baked.watch.files.length > 0) {
    const positions = new PositionStore(baked.output.path, warn);
    // The log, everything named after it (seal link, positions, rotated asides) and the pipe.
    const isOwnFile = (path: string) => path === baked.pipe?.path || path.startsWith(baked.output.path);
    groups.push(new FileWatch(baked.watch, positions, isOwnFile, COPY_LIMITS.maxBlockBytes, ownInodes(baked)));
    marks = {
      beforeAppend: (m, bytes) => positions.beforeAppend(m, bytes),
      durable: (m) => positions.durableNow(m),
    };
  }
  if (baked.session !== undefined) {
    const dir = new SessionDir(baked.session.dir, baked.runAs);
    dir.prepare();
    groups.push(dir);
  }
  return { groups, marks };
}

/**
 * Whether a file is one of the copy's own, by device and inode: the log and every file named
 * after it beside it (seal link, positions, rotated asides), the archives, the pipe. Looked up
 * when a watched file is opened (rare), so a link or a hard link to one of them is refused
 * whatever name it has.
 */
function ownInodes(baked: BakedOptions): (dev: number, ino: number) => boolean {
  const logDir = dirname(baked.output.path);
  const logName = basename(baked.output.path);
  const archiveDir = baked.rotation?.archive?.path ?? null;
  const candidates = (): string[] => [
    ...(baked.pipe === null ? [] : [baked.pipe.path]),
    ...namesIn(logDir).filter((name) => name.startsWith(logName)).map((name) => join(logDir, name)),
    ...(archiveDir === null ? [] : namesIn(archiveDir).map((name) => join(archiveDir, name))),
  ];
  return (dev, ino) =>
    candidates().some((path) => {
      try {
        const st = lstatSync(path);
        return st.dev === dev && st.ino === ino;
      } catch {
        return false;
      }
    });
}

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
