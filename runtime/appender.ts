import { constants, fdatasync, fdatasyncSync, fstatSync, lstatSync, promises as fsp, writeSync, type Stats } from 'node:fs';
import type { BakedPath } from './baked.ts';
import { errnoCode, PipesError, refusal } from './errors.ts';
import { assertSafeDirectory, describeFileType, octal } from './paths.ts';

/**
 * Appends whole encrypted messages to the output log.
 *
 * The file is created with O_EXCL and the baked mode while the process umask is 077, then
 * fchmod/fchown'd on the descriptor: it is never, even for an instant, more open than baked.
 * An existing file must be a regular file with one link, the baked owner and mode: a hard link
 * planted by someone else, or a file they made first, is refused rather than written into.
 */
export interface Appender {
  /**
   * Writes every message in order with O_APPEND, then one fdatasync for the batch; on failure
   * the log is truncated back to where the batch began. First it
   * checks that the path still names the file it has open: a log deleted or moved away by
   * someone else would otherwise swallow every later block (an unlinked file is lost on close).
   * Then it opens a fresh log and tells `onReplaced`.
   */
  append(messages: readonly Uint8Array[], options?: AppendOptions): Promise<void>;
  /** Closes and opens the path again (SIGHUP: after logrotate-style moves). */
  reopen(): Promise<void>;
  /**
   * Rotation: renames the live log to `aside` and goes on in a fresh log at the baked path.
   * When the fresh log cannot be made, the rename is undone, so the aside file is only ever
   * handed on once nothing writes to it any more.
   */
  moveAside(aside: string): Promise<void>;
  /** Current size of the live log. */
  size(): Promise<number>;
  close(): Promise<void>;
  readonly path: string;
}

export interface AppendOptions {
  /**
   * The caller has nothing to do meanwhile (a trickle, not a flood): a small batch is made
   * durable right here, on the event loop's own thread, instead of on the thread pool. The
   * promise is then settled when append returns.
   */
  readonly syncOnLoop?: boolean;
}

export interface AppenderEvents {
  /** The log was deleted, moved or replaced behind the copy's back; a fresh one is open. */
  readonly onReplaced?: (reason: string) => void;
  /** The path cannot be watched (directory closed to the run-as user); said once. */
  readonly onUncheckable?: (reason: string) => void;
}

/** An open log and the identity it had when opened (an open file keeps its device and inode). */
interface OpenLog {
  readonly handle: fsp.FileHandle;
  readonly dev: number;
  readonly ino: number;
}

export async function openAppender(output: BakedPath, events: AppenderEvents = {}): Promise<Appender> {
  let current = await openOutput(output);
  let checkable = true;
  /** Makes `next` the live log and closes the one before it. */
  const switchTo = async (next: OpenLog) => {
    const previous = current;
    current = next;
    await previous.handle.close();
  };
  const checkPath = (): PathCheck | null => {
    if (!checkable) return null;
    try {
      return pathCheck(output.path, current);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'EACCES' && code !== 'EPERM') throw err;
      // After the privilege drop the directory may be closed to the run-as user: the open
      // descriptor still works, only the check cannot be made. Say so once.
      checkable = false;
      events.onUncheckable?.(`cannot check whether ${output.path} is deleted or moved (${code}): its directory is closed to the run-as user`);
      return null;
    }
  };
  // A disk whose fdatasync stalls (a busy journal, a failing device) blocks the loop's thread:
  // nothing is read meanwhile, and writers wait once the pipe's buffer is full, whatever
  // --max-buffer and --on-overload say. After one such stall, batches go to the pool for a while.
  let poolUntil: number | null = null;
  const loopSyncAllowed = () => {
    if (poolUntil === null) return true;
    if (performance.now() < poolUntil) return false;
    poolUntil = null;
    return true;
  };
  const syncOnLoop = (fd: number) => {
    const started = performance.now();
    fdatasyncSync(fd);
    if (performance.now() - started > SLOW_LOOP_SYNC_MS) poolUntil = performance.now() + POOL_AFTER_SLOW_SYNC_MS;
  };
  return {
    path: output.path,
    async append(messages, options) {
      const path = checkPath();
      if (path !== null && path.replaced !== null) {
        await switchTo(await openOutput(output));
        // Told here, where it is found: a write failing after the reopen must not lose the news.
        events.onReplaced?.(path.replaced);
      }
      const log = current;
      // The checks and, for a small batch, the write itself are synchronous: each is a few
      // microseconds into the page cache, where a thread-pool round trip costs more than the
      // work. The size the path check found is the open log's own (same device and inode): no
      // fstat then.
      const sizeBefore = path !== null && path.replaced === null ? path.size : fstatSync(log.handle.fd).size;
      try {
        const small = totalLength(messages) <= SYNC_WRITE_MAX;
        if (small) for (const message of messages) writeAllSync(log.handle.fd, message);
        else for (const message of messages) await writeAll(log.handle, message);
        // fdatasync waits for the disk. Under a trickle the loop has nothing else to do until it
        // returns (the next block may not be appended before it anyway, and the pipe buffer
        // holds what comes): waiting right here saves the hand-over to a pool thread and the
        // loop's wake-up for its completion. In a flood it goes to the pool, so the loop keeps
        // reading meanwhile.
        if (small && options?.syncOnLoop === true && loopSyncAllowed()) syncOnLoop(log.handle.fd);
        else await fdatasyncFd(log.handle.fd);
      } catch (err) {
        // A disk that filled mid-message leaves a torn message: cut the log back to its last
        // whole message, so the retry appends cleanly. Shrinking needs no space; if it fails
        // all the same, the decrypter skips the torn bytes and says where they were.
        await log.handle.truncate(sizeBefore).catch(() => {});
        throw err;
      }
    },
    async reopen() {
      await switchTo(await openOutput(output));
    },
    async moveAside(aside) {
      await fsp.rename(output.path, aside);
      let next: OpenLog;
      try {
        next = await openOutput(output);
      } catch (err) {
        await fsp.rename(aside, output.path);
        throw err;
      }
      await switchTo(next);
    },
    async size() {
      return (await current.handle.stat()).size;
    },
    async close() {
      await current.handle.close();
    },
  };
}

async function openOutput(output: BakedPath): Promise<OpenLog> {
  assertSafeDirectory(output.path, 'output');
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;
  const where = JSON.stringify(output.path);
  let handle: fsp.FileHandle;
  let created = true;
  try {
    handle = await fsp.open(output.path, flags | constants.O_CREAT | constants.O_EXCL, output.mode);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw openError(where, err);
    created = false;
    try {
      handle = await fsp.open(output.path, flags);
    } catch (err2) {
      throw openError(where, err2);
    }
  }
  try {
    if (created || unfinishedCreation(output, fstatSync(handle.fd))) {
      // Root gives it to anyone; the run-as user (after the drop) to itself and its groups.
      await handle.chown(output.owner.uid, output.owner.gid);
      await handle.chmod(output.mode);
    }
    const st = fstatSync(handle.fd);
    checkOutputStat(output, st, where);
    return { handle, dev: st.dev, ino: st.ino };
  } catch (err) {
    await handle.close();
    // A file we just made but could not give its baked owner would be refused at every start.
    if (created) await fsp.unlink(output.path).catch(() => {});
    throw err instanceof PipesError ? err : new PipesError('OUTPUT_OWNER', `cannot give output ${where} its baked owner and mode: ${errnoCode(err) ?? String(err)}`);
  }
}

/**
 * A log this copy began to create and was killed before giving it its owner and mode (a crash
 * between open(O_CREAT) and fchmod, say mid-rotation): empty, one link, owned by this process's
 * user or the baked owner, and no more open than the baked mode (the umask of 077 made it 600).
 * Finishing it is safe: it holds nothing, and nobody else could have made it in a directory
 * only its owner can write. Anything else at the path is still refused.
 */
function unfinishedCreation(output: BakedPath, st: Stats): boolean {
  const ownerOk = st.uid === output.owner.uid || st.uid === process.geteuid?.();
  const noWiderThanBaked = ((st.mode & 0o7777) & ~output.mode) === 0;
  return st.isFile() && st.size === 0 && st.nlink === 1 && ownerOk && noWiderThanBaked;
}

/** What the path names: why it is no longer the open log, or (when it is) the log's size. */
type PathCheck = { readonly replaced: string; readonly size?: undefined } | { readonly replaced: null; readonly size: number };

/** One lstat per batch. */
function pathCheck(path: string, open: OpenLog): PathCheck {
  let atPath;
  try {
    atPath = lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { replaced: `${path} was deleted or moved away` };
    throw err;
  }
  return atPath.ino === open.ino && atPath.dev === open.dev ? { replaced: null, size: atPath.size } : { replaced: `${path} was replaced by another file` };
}

/**
 * fdatasync through the callback API: FileHandle.datasync() goes through two more async layers
 * and a promise request object that allocates its own stat arrays, per block. The descriptor is
 * never closed meanwhile: the writer runs a reopen or rotation only between appends.
 */
function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fdatasync(fd, (err) => (err ? reject(err) : resolve()));
  });
}

function openError(where: string, err: unknown): PipesError {
  const code = errnoCode(err);
  if (code === 'ELOOP') return refusal('OUTPUT_SYMLINK', `output ${where} is a symlink; refusing to follow it`);
  return new PipesError('OUTPUT_OPEN', `cannot open output ${where}: ${code ?? String(err)}`);
}

function checkOutputStat(output: BakedPath, st: Stats, where: string): void {
  if (!st.isFile()) throw refusal('OUTPUT_NOT_FILE', `output ${where} is ${describeFileType(st)}, not a regular file`);
  if (st.nlink !== 1) {
    throw refusal('OUTPUT_LINKED', `output ${where} has ${st.nlink} hard links; someone may have linked it to another file, refusing`);
  }
  if (st.uid !== output.owner.uid || st.gid !== output.owner.gid) {
    throw refusal(
      'OUTPUT_OWNER',
      `output ${where} is owned by ${st.uid}:${st.gid}, expected ${output.owner.label} (${output.owner.uid}:${output.owner.gid}); move it aside or fix its owner`,
    );
  }
  if ((st.mode & 0o7777) !== output.mode) {
    throw refusal('OUTPUT_MODE', `output ${where} has mode ${octal(st.mode & 0o7777)}, expected ${octal(output.mode)}; move it aside or fix its mode`);
  }
}

/**
 * Batches up to this size (a trickle's blocks) are written synchronously; a flood's batches of
 * up to 2 MiB go through the thread pool so the event loop keeps draining the pipe meanwhile.
 */
const SYNC_WRITE_MAX = 64 * 1024;
/**
 * An fdatasync on the loop's thread that took longer than this was a stall, not a disk's normal
 * latency (an SSD's is well under 1 ms, a spinning disk's some 10 ms); small batches then sync on
 * the thread pool for POOL_AFTER_SLOW_SYNC_MS. Under a trickle the pipe's 64 KiB hold this much
 * wait with room to spare.
 */
const SLOW_LOOP_SYNC_MS = 50;
const POOL_AFTER_SLOW_SYNC_MS = 60_000;

function totalLength(messages: readonly Uint8Array[]): number {
  let n = 0;
  for (const m of messages) n += m.length;
  return n;
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw new PipesError('OUTPUT_WRITE', 'write to the output returned no progress');
    offset += written;
  }
}

/** Writes every byte, looping over short writes. */
export async function writeAll(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null);
    if (bytesWritten <= 0) throw new PipesError('OUTPUT_WRITE', 'write to the output returned no progress');
    offset += bytesWritten;
  }
}
