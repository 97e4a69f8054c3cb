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
    groups.push(new FileWatch(baked.watch, positions, isOwnFile, COPY_LIMITS.maxBlockBytes));
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
