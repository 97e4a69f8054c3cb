import { execFile } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, unlinkSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { errnoCode, PipesError, refusal } from '../errors.ts';
import { describeFileType, lstatOrNull, octal } from '../paths.ts';
import { FollowStopped } from './follow.ts';

const execFileAsync = promisify(execFile);

/**
 * `--to-pipe PATH`: the plaintext goes into a FIFO for another tool (a SIEM shipper, a
 * script). The decrypter creates the FIFO (only its owner may read it, `--to-pipe-mode`) and
 * writes each block once a reader has opened it:
 * - no reader yet: it waits, polling a non-blocking open (stoppable, no thread held), and says
 *   so once on stderr; nothing more is read or decrypted meanwhile;
 * - a slow reader: each write waits until the kernel took the bytes (backpressure), so at
 *   most one block is held in memory;
 * - the reader goes away: said on stderr (the block being written may reach it cut short), and
 *   the next block waits for the next reader.
 * An existing path is used only when it is a FIFO of ours with that mode; anything else is
 * refused and left alone. A FIFO made by this run is removed at its end.
 */
export interface ToPipe {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** How often a reader is looked for while none has the FIFO open. */
const READER_POLL_MS = 100;

export async function openToPipe(path: string, mode: number, signal: AbortSignal, notice: (text: string) => void): Promise<ToPipe> {
  const where = JSON.stringify(path);
  const before = lstatOrNull(path);
  let created = false;
  if (before === null) {
    // Node has no mkfifo(3); coreutils' mkfifo with an argument array (no shell).
    await execFileAsync('mkfifo', ['-m', octal(mode), '--', path]).catch((err: unknown) => {
      throw new PipesError('TO_PIPE_CREATE', `--to-pipe: cannot create ${where}: ${(err as Error).message.trim()}`);
    });
    created = true;
  } else assertOurFifo(path, before, mode);
  const made = created ? lstatOrNull(path) : before;

  let socket: Socket | null = null;
  const stopLooking = new AbortController();
  const looking = AbortSignal.any([signal, stopLooking.signal]);
  const connect = async (): Promise<Socket> => {
    let told = false;
    for (;;) {
      if (looking.aborted) throw new FollowStopped();
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
        const st = fstatSync(fd);
        if (made === null || st.ino !== made.ino || st.dev !== made.dev) {
          closeSync(fd);
          throw refusal('TO_PIPE_REPLACED', `--to-pipe: ${where} was replaced while waiting for a reader; stopping`);
        }
        return new Socket({ fd, readable: false, writable: true });
      } catch (err) {
        if (errnoCode(err) !== 'ENXIO') throw err instanceof PipesError ? err : new PipesError('TO_PIPE_OPEN', `--to-pipe: cannot open ${where}: ${errnoCode(err) ?? String(err)}`);
      }
      if (!told) notice(`waiting for a reader of ${where}`);
      told = true;
      await sleep(READER_POLL_MS, undefined, { signal: looking }).catch(() => {
        throw new FollowStopped();
      });
    }
  };

  // Looked for from the start, so the admin is told at once when nobody reads yet.
  let connecting: Promise<Socket> | null = connect();
  connecting.catch(() => {}); // awaited by the first write; a stop before it is not an error
  return {
    async write(bytes) {
      if (socket === null) {
        connecting ??= connect();
        socket = await connecting;
        connecting = null;
      }
      const s = socket;
      const failed = await new Promise<Error | null>((resolve) => {
        const onError = (err: Error) => done(err);
        // A reader that stopped reading must not keep a stopped run alive.
        const onStop = () => done(new FollowStopped());
        const done = (err: Error | null) => {
          s.off('error', onError);
          signal.removeEventListener('abort', onStop);
          resolve(err);
        };
        s.once('error', onError);
        signal.addEventListener('abort', onStop, { once: true });
        s.write(bytes, (err) => done(err ?? null));
      });
      if (failed === null) return;
      if (failed instanceof FollowStopped) {
        s.destroy();
        socket = null;
        throw failed;
      }
      s.destroy();
      socket = null;
      if (errnoCode(failed) !== 'EPIPE') throw new PipesError('TO_PIPE_WRITE', `--to-pipe: writing ${where}: ${errnoCode(failed) ?? failed.message}`);
      notice(`the reader of ${where} went away (the last block it got may be cut short); waiting for the next reader`);
    },
    async close() {
      if (connecting !== null) {
        // Nobody ever read: stop looking (the stop signal has fired or nothing was written).
        stopLooking.abort();
        await connecting.catch(() => {});
      }
      const s = socket;
      if (s !== null) await new Promise<void>((resolve) => s.end(() => resolve()));
      s?.destroy();
      const now = lstatOrNull(path);
      if (created && made !== null && now !== null && now.isFIFO() && now.ino === made.ino && now.dev === made.dev) unlinkSync(path);
    },
  };
}

/** A FIFO this user owns with exactly the mode asked for: ours (say, left by an earlier run). */
function assertOurFifo(path: string, st: Stats, mode: number): void {
  const where = JSON.stringify(path);
  if (!st.isFIFO()) throw refusal('TO_PIPE_NOT_FIFO', `--to-pipe: ${where} exists and is ${describeFileType(st)}, not a named pipe; remove it or choose another path (nothing was changed)`);
  if (st.uid !== process.geteuid?.()) throw refusal('TO_PIPE_OWNER', `--to-pipe: FIFO ${where} is owned by uid ${st.uid}, not by us; nothing was changed`);
  if ((st.mode & 0o7777) !== mode) throw refusal('TO_PIPE_MODE', `--to-pipe: FIFO ${where} has mode ${octal(st.mode & 0o7777)}, expected ${octal(mode)}; nothing was changed`);
}
