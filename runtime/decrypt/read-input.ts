import { closeSync, constants, open as openCb, openSync, promises as fsp, readFile } from 'node:fs';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { errnoCode, PipesError } from '../errors.ts';
import { ArchiveFormatError, openArchiveStream } from './archive-stream.ts';
import { keyOptionsFor, type DecryptionKey } from './decryption-keys.ts';
import { sessionKeyFor, type SessionKeyOf } from './fast-open.ts';
import { FollowStopped, openFollowed } from './follow.ts';
import type { Input } from './inputs.ts';
import { loadOpenpgp } from './load-openpgp.ts';
import type { LogDecrypter } from './reader.ts';

const gunzipAsync = promisify(gunzip);
const readFileAsync = promisify(readFile);
const openAsync = promisify(openCb);

export interface ReadContext {
  readonly archiveKeys: readonly DecryptionKey[];
  /** With `--gpg`: the session keys come from GnuPG (archives' outer layer too). */
  readonly sessionKeyOf?: SessionKeyOf;
  /** Standard input, chunk by chunk. */
  readonly stdin: () => AsyncIterable<Uint8Array>;
  /** Aborted when the admin stops a follow or a stream (SIGINT, SIGTERM). */
  readonly signal: AbortSignal;
  /** Every chunk of input read (progress). */
  readonly onBytes?: (n: number) => void;
  /** One-line notices for stderr (waiting for a file, a rotation followed). */
  readonly notice: (text: string) => void;
}

/**
 * Decrypts one input to its end. With `follow`, a log file is followed across rotations (a NATS
 * subject waited on) until the signal stops it. The NATS client is loaded only for `--from`. Returns false when the admin stopped it (nothing after it is read).
 */
export async function decryptInput(decrypter: LogDecrypter, input: Input, ctx: ReadContext, follow: boolean): Promise<boolean> {
  try {
    if (input.kind === 'nats') await (await import('./nats-input.ts')).decryptNats(decrypter, input, ctx, follow);
    else if (input.kind === 'stream') await decryptStream(decrypter, input.path, input.label, ctx);
    else if (input.kind === 'archive') await decryptArchive(decrypter, input.path, ctx);
    else if (follow) await followLog(decrypter, input.path, ctx);
    else await decryptFile(decrypter, input.path, ctx);
    return true;
  } catch (err) {
    if (err instanceof FollowStopped) return false;
    throw err;
  }
}

const unreadable = (file: string, err: unknown) => new PipesError('INPUT_UNREADABLE', `cannot read ${JSON.stringify(file)}: ${errnoCode(err) ?? String(err)}`);

function counted(read: () => Promise<Buffer | null>, ctx: ReadContext): () => Promise<Buffer | null> {
  return async () => {
    const chunk = await read();
    if (chunk !== null) ctx.onBytes?.(chunk.length);
    return chunk;
  };
}

/** Logs grow without bound (no rotation, or a big one): read chunk by chunk. */
async function decryptFile(decrypter: LogDecrypter, file: string, ctx: ReadContext): Promise<void> {
  const handle = await fsp.open(file, 'r').catch((err: unknown) => {
    throw unreadable(file, err);
  });
  try {
    // Read into the reader's window, not into a buffer of our own it would copy from.
    const readInto = async (target: Buffer, offset: number): Promise<number> => {
      const { bytesRead } = await handle.read(target, offset, target.length - offset, null).catch((err: unknown) => Promise.reject(unreadable(file, err)));
      ctx.onBytes?.(bytesRead);
      return bytesRead;
    };
    await decrypter.decryptChunks({ readInto }, file);
  } finally {
    await handle.close();
  }
}

/**
 * An archive is one rotated log, as big as --rotate-size: read as a stream (archive-stream.ts),
 * its rotated log decrypted as it is gunzipped, in bounded memory. A damage to the outer layer
 * is reported after the blocks before it. An archive of another shape is opened whole.
 */
async function decryptArchive(decrypter: LogDecrypter, file: string, ctx: ReadContext): Promise<void> {
  const handle = await fsp.open(file, 'r').catch((err: unknown) => {
    throw unreadable(file, err);
  });
  const stream = handle.createReadStream({ highWaterMark: ARCHIVE_READ });
  try {
    const counting = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        ctx.onBytes?.(chunk.length);
        yield chunk;
      }
    };
    const inner = await openArchiveStream(counting(), (packets) => sessionKeyFor(packets, ctx.archiveKeys, ctx.sessionKeyOf)).catch((err: unknown) => err as Error);
    if (inner === null) return await decryptArchiveWhole(decrypter, file, ctx);
    if (inner instanceof Error) {
      if (inner instanceof ArchiveFormatError || !isReadError(inner)) decrypter.reportProblem({ source: file, offset: 0, length: 0, kind: 'undecryptable', detail: `archive: ${inner.message}` });
      else throw unreadable(file, inner);
      return;
    }
    const it = inner[Symbol.asyncIterator]();
    let failure: Error | null = null;
    // A failure ends the input: the reader first judges what it holds (a block cut by it is torn).
    const read = async (): Promise<Buffer | null> => {
      if (failure !== null) return null;
      try {
        const next = await it.next();
        return next.done === true ? null : next.value;
      } catch (err) {
        failure = err as Error;
        return null;
      }
    };
    await decrypter.decryptChunks(read, `${file} (inside)`);
    if (failure !== null) {
      const err: Error = failure;
      if (isReadError(err)) throw unreadable(file, err);
      decrypter.reportProblem({ source: file, offset: 0, length: 0, kind: 'undecryptable', detail: `archive: ${err.message}` });
    }
  } finally {
    stream.destroy();
    await handle.close().catch(() => {});
  }
}

/** An error of the file itself (EIO, say), not of what is in it. */
const isReadError = (err: Error): boolean => typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code!.startsWith('E') && !(err as NodeJS.ErrnoException).code!.startsWith('ERR_');

/** Archive reads: large enough for few hand-overs, small next to the archive. */
const ARCHIVE_READ = 1024 * 1024;

/** An archive of a shape the stream reader does not take (another cipher, say): opened whole by openpgp.js. */
async function decryptArchiveWhole(decrypter: LogDecrypter, file: string, ctx: ReadContext): Promise<void> {
  const buf = await readFileAsync(file).catch((err: unknown) => {
    throw unreadable(file, err);
  });
  const inner = await openArchive(buf, ctx).catch((err: unknown) => err as Error);
  if (inner instanceof Error) {
    decrypter.reportProblem({ source: file, offset: 0, length: buf.length, kind: 'undecryptable', detail: `archive: ${inner.message}` });
    return;
  }
  await decrypter.decryptBuffer(inner, `${file} (inside)`);
}

/** Outer layer (rotation key), then gunzip: the rotated log as it was on the server. */
async function openArchive(buf: Buffer, ctx: ReadContext): Promise<Buffer> {
  const openpgp = await loadOpenpgp();
  const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(buf) });
  const { data } = await openpgp.decrypt({ message, ...(await keyOptionsFor(message, ctx.archiveKeys, ctx.sessionKeyOf)), format: 'binary' });
  return gunzipAsync(data as Uint8Array);
}

/**
 * `--follow`: the log by path, across rotations. Each file the path names in turn is decrypted
 * live (a block is printed as soon as it is whole; a block still being written is waited for,
 * never reported torn) until a new file replaces it, then the next one from its start.
 */
async function followLog(decrypter: LogDecrypter, path: string, ctx: ReadContext): Promise<void> {
  for (let first = true; ; first = false) {
    const file = await openFollowed(path, ctx.signal, () => ctx.notice(`waiting for ${JSON.stringify(path)} to appear`));
    if (!first) ctx.notice(`${JSON.stringify(path)} was rotated: following the new file`);
    try {
      await decrypter.decryptChunks(counted(file.read, ctx), path, { live: true });
    } finally {
      await file.close();
    }
  }
}

/**
 * Standard input or a FIFO: a live stream, decrypted as it comes until its writers close it.
 * A FIFO is opened for reading only (so it ends when its last writer closes), which waits for a
 * writer on the thread pool; the reads then go through the event loop (net.Socket), never the
 * thread pool, as a blocked FIFO read would hold a pool thread.
 */
async function decryptStream(decrypter: LogDecrypter, path: string | null, label: string, ctx: ReadContext): Promise<void> {
  let socket: Socket | null = null;
  let source: AsyncIterable<Uint8Array>;
  if (path === null) source = ctx.stdin();
  else {
    // Stopped before any writer came: open it for writing ourselves, which completes (and
    // ends at once) the open still waiting on the thread pool, so the process can exit.
    const unblock = () => {
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no open is waiting any more
      }
    };
    ctx.signal.addEventListener('abort', unblock, { once: true });
    ctx.notice(`reading FIFO ${JSON.stringify(path)} until its writers close it`);
    const fd = await openAsync(path, 'r')
      .catch((err: unknown) => {
        throw unreadable(path, err);
      })
      .finally(() => ctx.signal.removeEventListener('abort', unblock));
    if (ctx.signal.aborted) {
      closeSync(fd);
      throw new FollowStopped();
    }
    socket = new Socket({ fd, readable: true, writable: false });
    source = socket;
  }
  const it = source[Symbol.asyncIterator]();
  const stopped = new Promise<never>((_, reject) => {
    const stop = () => reject(new FollowStopped());
    if (ctx.signal.aborted) stop();
    else ctx.signal.addEventListener('abort', stop, { once: true });
  });
  stopped.catch(() => {}); // only raced below
  const read = async (): Promise<Buffer | null> => {
    const next = await Promise.race([it.next(), stopped]);
    return next.done === true ? null : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
  };
  try {
    await decrypter.decryptChunks(counted(read, ctx), label, { live: true });
  } finally {
    // Standard input stops being read (a pending read would keep the process alive).
    if (source instanceof Readable) source.destroy();
    socket?.destroy();
  }
}
