import { execFile } from 'node:child_process';
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync, readSync, unlinkSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import type { BakedPath } from './baked.ts';
import { errnoCode, PipesError, refusal } from './errors.ts';
import type { Logger } from './log.ts';
import { assertSafeDirectory, describeFileType, lstatOrNull, octal } from './paths.ts';

const execFileAsync = promisify(execFile);

export interface OpenedFifo {
  readonly fd: number;
  /** True when this process made the FIFO, so it removes it at stop. */
  readonly created: boolean;
  readonly dev: number;
  readonly ino: number;
}

/**
 * Makes sure `pipe.path` is a FIFO owned and moded as baked, creating it if missing, and opens
 * it. An existing path of any other kind or owner or mode is refused and left untouched.
 *
 * O_RDWR: the copy holds a write end itself, so it never reads EOF when the last writer closes
 * (writers come and go). O_NONBLOCK: reads go through the event loop (net.Socket, epoll), never
 * the fs thread pool, which a blocked FIFO read would starve. O_NOFOLLOW: a symlink swapped in
 * after the lstat check fails the open instead of being followed.
 */
export async function openFifo(pipe: BakedPath): Promise<OpenedFifo> {
  assertSafeDirectory(pipe.path, 'pipe');
  let created = false;
  const before = lstatOrNull(pipe.path);
  if (before === null) {
    // Node has no mkfifo(3); coreutils' mkfifo with an argument array (no shell).
    await execFileAsync('mkfifo', ['-m', octal(pipe.mode), '--', pipe.path]).catch((err: unknown) => {
      throw new PipesError('PIPE_CREATE', `cannot create pipe ${JSON.stringify(pipe.path)}: ${(err as Error).message.trim()}`);
    });
    created = true;
  } else if (unfinishedCreation(pipe, before)) {
    created = true; // given its owner and mode below, on the descriptor
  } else {
    assertExpectedFifo(pipe, before, 'exists but is');
  }
  let fd: number;
  try {
    fd = openSync(pipe.path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP') throw refusal('PIPE_SYMLINK', `pipe ${JSON.stringify(pipe.path)} was replaced by a symlink; refusing to follow it`);
    throw new PipesError('PIPE_OPEN', `cannot open pipe ${JSON.stringify(pipe.path)}: ${code ?? String(err)}`);
  }
  try {
    if (created) {
      // On the descriptor, not the path: whatever sits at the path now, these reach our FIFO.
      fchownSync(fd, pipe.owner.uid, pipe.owner.gid);
      fchmodSync(fd, pipe.mode);
    }
    const st = fstatSync(fd);
    assertExpectedFifo(pipe, st, 'was replaced by');
    return { fd, created, dev: st.dev, ino: st.ino };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * A FIFO this copy began to create and was killed before giving it its owner and mode: owned by
 * this process's user, no more open than baked. Only root or the run-as user can create in the
 * pipe's directory (others are refused at start), so it is ours to finish.
 */
function unfinishedCreation(pipe: BakedPath, st: Stats): boolean {
  if (!st.isFIFO() || st.uid !== process.geteuid?.()) return false;
  const expected = st.uid === pipe.owner.uid && st.gid === pipe.owner.gid && (st.mode & 0o7777) === pipe.mode;
  return !expected && ((st.mode & 0o7777) & ~pipe.mode) === 0;
}

function assertExpectedFifo(
  pipe: BakedPath,
  st: Stats,
  verb: string,
): void {
  const where = JSON.stringify(pipe.path);
  if (!st.isFIFO()) {
    throw refusal(
      st.isSymbolicLink() ? 'PIPE_SYMLINK' : 'PIPE_NOT_FIFO',
      `pipe ${where} ${verb} ${describeFileType(st)}, not a named pipe; remove it or choose another --pipe (nothing was changed)`,
    );
  }
  if (st.uid !== pipe.owner.uid || st.gid !== pipe.owner.gid) {
    throw refusal(
      'PIPE_OWNER',
      `pipe ${where} is owned by ${st.uid}:${st.gid}, expected ${pipe.owner.label} (${pipe.owner.uid}:${pipe.owner.gid}); nothing was changed`,
    );
  }
  if ((st.mode & 0o7777) !== pipe.mode) {
    throw refusal('PIPE_MODE', `pipe ${where} has mode ${octal(st.mode & 0o7777)}, expected ${octal(pipe.mode)}; nothing was changed`);
  }
}

/** Bytes one read takes from the pipe at most: the pipe's default kernel buffer. */
const READ_CHUNK = 64 * 1024;

/**
 * A socket over the FIFO that uses epoll, not the fs thread pool. Every read lands in the same
 * buffer and `onChunk` gets a view of just the bytes read, valid only until it returns: the next
 * read overwrites it. The framer copies what it is pushed before returning (runtime/framer.ts),
 * so the bytes are copied once, straight into the block they join: no stream machinery, no
 * allocation per read, and pause() stops reading at once (a paused socket in stream mode keeps
 * reading into its buffer first).
 */
export function fifoSocket(fd: number, onChunk: (chunk: Buffer) => void): Socket {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  return new Socket({
    fd,
    readable: true,
    writable: false,
    allowHalfOpen: true,
    onread: { buffer, callback: (n: number, buf: Buffer) => void onChunk(buf.subarray(0, n)) },
  } as ConstructorParameters<typeof Socket>[0]);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks this thread for `ms` (fractions allowed) without using CPU: a futex wait that nothing
 * wakes. The copy's burst gather uses it (copy-session.ts says why).
 */
export function sleepThread(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** The buffer drainNow reads into: one for the process, since every read is consumed (copied by the framer) before the next. */
let drainBuffer: Buffer | null = null;

/**
 * Reads what is already in the pipe's kernel buffer without waiting (the fd is non-blocking),
 * at most `maxBytes`, and returns how many bytes it read. Used at the end of a gather and at stop,
 * after the socket is paused, so lines written before the stop are not dropped with the pipe.
 *
 * A read from a pipe returns everything in it up to the size asked for, so a read shorter than
 * the size asked has emptied the pipe: no further read is made. That saves, at every gather, the
 * read that would fail with EAGAIN, which node turns into a thrown error with a stack trace
 * (the most expensive step of a drain). Bytes a writer adds just after are not missed: the
 * socket reads them once it resumes, and the stop loop drains until a drain finds nothing.
 *
 * The bound: a writer on another core refills the pipe as fast as this loop empties it, so
 * without one a flood keeps it going, past every backpressure check.
 */
export function drainNow(fd: number, onChunk: (chunk: Buffer) => void, maxBytes = Number.POSITIVE_INFINITY): number {
  const buf = (drainBuffer ??= Buffer.allocUnsafe(READ_CHUNK));
  let total = 0;
  while (total < maxBytes) {
    let n: number;
    let asked: number;
    // A gather's quiet step ends on EAGAIN, ~100 times a second: node builds an Error for it,
    // and capturing its stack trace is most of that cost. This error is expected and dropped.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      asked = Math.min(buf.length, maxBytes - total);
      n = readSync(fd, buf, 0, asked, null);
    } catch (err) {
      if (errnoCode(err) === 'EAGAIN') return total;
      throw err;
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    if (n <= 0) return total;
    total += n;
    // A view, valid until onChunk returns (as the socket's): the next read reuses the buffer.
    onChunk(buf.subarray(0, n));
    if (n < asked) return total;
  }
  return total;
}

/** Removes the FIFO at stop, only if it is still the one we made (same device and inode). */
export function removeFifo(path: string, opened: OpenedFifo): boolean {
  const st = lstatOrNull(path);
  if (st === null || !st.isFIFO() || st.dev !== opened.dev || st.ino !== opened.ino) return false;
  unlinkSync(path);
  return true;
}

/**
 * Removes the pipe if this run made it. Best effort: after the privilege drop its directory may
 * be closed to us, and a failed cleanup must not hide why we stop. A pipe left behind has the
 * baked owner and mode, so the next start reuses it.
 */
export function removeOwnFifo(path: string, fifo: OpenedFifo, log: Logger): void {
  if (!fifo.created) return;
  try {
    removeFifo(path, fifo);
  } catch (err) {
    log.warn('PIPE_REMOVE', `could not remove ${path}: ${errnoCode(err) ?? String(err)}`);
  }
}
