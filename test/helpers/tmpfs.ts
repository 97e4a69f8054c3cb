import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small tmpfs to fill up: a real ENOSPC, not a mock. Needs root (CAP_SYS_ADMIN); when the
 * mount is refused, `reason` says why and the caller skips with it.
 */
export interface Tmpfs {
  readonly dir: string;
  /** Takes all but about `leaveBytes` of the free space with a filler file. */
  fill(leaveBytes: number): void;
  /** Removes the filler: the disk has room again. */
  free(): void;
  dispose(): void;
}

export function mountTmpfs(parent: string, sizeBytes: number): Tmpfs | { reason: string } {
  const dir = join(parent, 'tmpfs');
  mkdirSync(dir, { mode: 0o700 });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return { reason: `cannot mount a tmpfs to fill (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); run the tests as root to exercise a full disk` };
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill(leaveBytes) {
      const { bavail, bsize } = statfs(dir);
      const take = Math.max(0, bavail * bsize - leaveBytes);
      writeFileSync(filler, Buffer.alloc(take));
    },
    free() {
      writeFileSync(filler, '');
    },
    dispose() {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    },
  };
}

function statfs(dir: string): { bavail: number; bsize: number } {
  const out = execFileSync('stat', ['-f', '-c', '%a %S', dir], { encoding: 'utf8' }).trim().split(' ');
  return { bavail: Number(out[0]), bsize: Number(out[1]) };
}
