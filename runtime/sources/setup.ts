import type { BakedOptions } from '../baked.ts';
import { COPY_LIMITS } from '../copy-limits.ts';
import { FileWatch } from './file-watch.ts';
import { PositionStore } from './positions.ts';

/**
 * The watched files of a copy (--watch-file), or null: the group the session reads, and the
 * hooks the writer calls around each append so their positions follow what is durable.
 */
export function watchedFiles(baked: BakedOptions, warn: (why: string) => void) {
  if (baked.watch === undefined || baked.watch.files.length === 0) return null;
  const positions = new PositionStore(baked.output.path, warn);
  // The log, everything named after it (seal link, positions, rotated asides) and the pipe.
  const isOwnFile = (path: string) => path === baked.pipe.path || path.startsWith(baked.output.path);
  return {
    group: new FileWatch(baked.watch, positions, isOwnFile, COPY_LIMITS.maxBlockBytes),
    marks: {
      beforeAppend: (marks: readonly unknown[], bytes: number) => positions.beforeAppend(marks, bytes),
      durable: (marks: readonly unknown[]) => positions.durableNow(marks),
    },
  };
}
