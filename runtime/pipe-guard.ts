import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BakedPath } from './baked.ts';
import { errnoCode } from './errors.ts';
import { openFifo, removeOwnFifo, type OpenedFifo } from './fifo.ts';
import type { Logger } from './log.ts';
import { describeFileType, lstatOrNull, octal } from './paths.ts';

const RETRY_AFTER_FAILURE_MS = 30_000;

export interface PipeGuardDeps {
  readonly pipe: BakedPath;
  readonly log: Logger;
  /** An event for the encrypted log. */
  readonly record: (event: string, detail: string) => void;
  /** The FIFO the path should name: the newest one read. */
  readonly current: () => OpenedFifo;
  /** Reads a fresh FIFO too; false when the copy is stopping (the guard then removes it again). */
  readonly adopt: (fifo: OpenedFifo) => boolean;
}

/**
 * Keeps the pipe path naming a FIFO the copy reads. If it was deleted or replaced (a plain file
 * there would take writers' lines in the clear), the guard records it, moves the intruder aside
 * as evidence, and puts a fresh FIFO with the baked owner and mode in its place. Writers that
 * still hold the old pipe keep writing there, and the copy still reads it.
 */
export class PipeGuard {
  private timer: NodeJS.Timeout | null = null;
  /** The last problem said, so a lasting one is recorded once, not at every check. */
  private problem: string | null = null;
  private replacing = false;
  /** After a failed attempt to put the pipe back, the next waits this long (no mkfifo every second). */
  private retryAt = 0;

  constructor(private readonly deps: PipeGuardDeps) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => this.check(), everyMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    const { pipe } = this.deps;
    let change: string | null;
    try {
      change = pipeChange(pipe, this.deps.current());
    } catch (err) {
      // After the privilege drop the directory may be closed to the run-as user, as for the log.
      this.note('PIPE_UNCHECKED', 'pipe-unchecked', `cannot check whether ${pipe.path} is deleted or replaced (${errnoCode(err) ?? String(err)}); the open pipe is still read`);
      return;
    }
    if (change === null) this.problem = null;
    else if (Date.now() >= this.retryAt) void this.replace(change);
  }

  private async replace(change: string): Promise<void> {
    if (this.replacing) return;
    this.replacing = true;
    const { pipe, log } = this.deps;
    try {
      const { fifo, aside } = await putFreshPipe(pipe);
      if (!this.deps.adopt(fifo)) {
        removeOwnFifo(pipe.path, fifo, log);
        closeSync(fifo.fd);
        return;
      }
      const detail = `${change}${aside === null ? '' : `; what was there is kept as ${aside}`}; a fresh pipe was made`;
      this.problem = null;
      log.warn('PIPE_REPLACED', detail);
      this.deps.record('pipe-replaced', detail);
    } catch (err) {
      this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
      this.note('PIPE_NOT_RECREATED', 'pipe-not-recreated', `${change}; could not put a fresh pipe there: ${errnoCode(err) ?? (err as Error).message}`);
    } finally {
      this.replacing = false;
    }
  }

  private note(code: 'PIPE_UNCHECKED' | 'PIPE_NOT_RECREATED', event: string, detail: string): void {
    if (this.problem === detail) return;
    this.problem = detail;
    // Not checkable is a limit of the setup; a pipe we could not put back is a real failure.
    if (code === 'PIPE_UNCHECKED') this.deps.log.warn(code, detail);
    else this.deps.log.error(code, detail);
    this.deps.record(event, detail);
  }
}

/**
 * Why the pipe path no longer names the FIFO the copy reads with its baked owner and mode, or
 * null when it still does. Deleted, a plain file put in its place (writers would log into it in
 * the clear), a symlink, or another FIFO (someone else may read it): each is a reason to put our
 * own pipe back. So is our own FIFO given to another owner or mode: only root or the copy itself
 * can do that, and root processes do it unasked — nginx's log reopen (SIGUSR1, sent by Debian's
 * logrotate every night) chowns each log path to its worker user, who may then read the pipe or
 * open it to everyone. The copy, no longer root, cannot chown it back; a fresh pipe it can make.
 */
export function pipeChange(pipe: BakedPath, reading: OpenedFifo): string | null {
  const st = lstatOrNull(pipe.path);
  if (st === null) return `${pipe.path} was deleted`;
  if (st.dev !== reading.dev || st.ino !== reading.ino) return `${pipe.path} was replaced by ${st.isFIFO() ? 'another named pipe' : describeFileType(st)}`;
  const mode = st.mode & 0o7777;
  if (st.uid === pipe.owner.uid && st.gid === pipe.owner.gid && mode === pipe.mode) return null;
  return `${pipe.path} was given owner ${st.uid}:${st.gid} mode ${octal(mode)} (baked: ${pipe.owner.uid}:${pipe.owner.gid} mode ${octal(pipe.mode)}; a service's log reopen may do this, e.g. nginx -s reopen)`;
}

/**
 * Puts a fresh FIFO with the baked owner and mode at the pipe path, keeping whatever sat there as
 * evidence (it may hold lines written in the clear, or be a trap) under a name that says what
 * happened. The path must never be empty on the way: a writer that reopens it then (nginx at its
 * log reopen, Apache at a restart) would create a plain file there and log into it in the clear.
 * So the FIFO is made and opened under a temporary name first and renamed over the path, which
 * replaces in one step. The intruder is kept by a hard link made before that; where a link is not
 * allowed (protected_hardlinks: a FIFO of another user) it is renamed aside just before, which
 * leaves the path empty only between two renames.
 */
async function putFreshPipe(pipe: BakedPath): Promise<{ fifo: OpenedFifo; aside: string | null }> {
  const temp = join(dirname(pipe.path), `.${basename(pipe.path)}.fresh-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fifo = await openFifo({ ...pipe, path: temp });
  try {
    const aside = keepIntruder(pipe.path, new Date());
    renameSync(temp, pipe.path);
    return { fifo, aside };
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone; the error below says why we stopped
    }
    closeSync(fifo.fd);
    throw err;
  }
}

/** Keeps what sits at the pipe path under a name of its own; null when nothing was there. */
function keepIntruder(path: string, now: Date): string | null {
  if (lstatOrNull(path) === null) return null;
  const aside = `${path}.replaced-${now.toISOString().replace(/[-:]/g, '')}-${process.pid}`;
  try {
    linkSync(path, aside); // link(2) does not follow a symlink: the link itself is kept
  } catch {
    renameSync(path, aside);
  }
  return aside;
}
