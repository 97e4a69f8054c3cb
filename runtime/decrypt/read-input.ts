import { closeSync, constants, open as openCb, openSync, promises as fsp, readFile } from 'node:fs';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import * as openpgp from 'openpgp';
import { errnoCode, PipesError } from '../errors.ts';
import type { SessionKeyOf } from './fast-open.ts';
import { FollowStopped, openFollowed } from './follow.ts';
import { keyOptionsFor } from './gpg-session-keys.ts';
import type { Input } from './inputs.ts';
import type { LogDecrypter } from './reader.ts';

const gunzipAsync = promisify(gunzip);
const readFileAsync = promisify(readFile);
const openAsync = promisify(openCb);

export interface ReadContext {
  readonly archiveKeys: readonly openpgp.PrivateKey[];
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

/** Input is read this much at a time: large enough to hold many blocks, small next to any RAM. */
const READ_CHUNK = 16 * 1024 * 1024;

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
    const read = async () => {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK, null).catch((err: unknown) => Promise.reject(unreadable(file, err)));
      return bytesRead === 0 ? null : chunk.subarray(0, bytesRead);
    };
    await decrypter.decryptChunks(counted(read, ctx), file);
  } finally {
    await handle.close();
  }
}

/** An archive is one rotated log, as big as --rotate-size: opened whole. */
async function decryptArchive(decrypter: LogDecrypter, file: string, ctx: ReadContext): Promise<void> {
  const buf = await readFileAsync(file).catch((err: unknown) => {
    throw unreadable(file, err);
  });
  ctx.onBytes?.(buf.length);
  const inner = await openArchive(buf, ctx).catch((err: unknown) => err as Error);
  if (inner instanceof Error) {
    decrypter.reportProblem({ source: file, offset: 0, length: buf.length, kind: 'undecryptable', detail: `archive: ${inner.message}` });
    return;
  }
  await decrypter.decryptBuffer(inner, `${file} (inside)`);
}

/** Outer layer (rotation key), then gunzip: the rotated log as it was on the server. */
async function openArchive(buf: Buffer, ctx: ReadContext): Promise<Buffer> {
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
