import { nextPiece } from '../decrypt/split.ts';
import { RECEIVE_HELLO } from '../sinks/forward/ssh.ts';
import type { SpoolMessage } from '../sinks/forward/spool-reader.ts';
import { CollectorFile } from './collector-file.ts';

/**
 * `paranoid-pipes receive --output PATH`: the collector's end of ssh push, run by sshd as the
 * forced command of the sending host's key. It reads whole encrypted messages from stdin,
 * appends the ones the log does not hold yet, and answers `ok N` after the first N messages of
 * this connection are on disk. A message cut off by a dropped connection is never written;
 * bytes that are not an OpenPGP message are refused and said on stderr.
 */
export interface ReceiveIo {
  readonly stdin: AsyncIterable<unknown>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface ReceiveResult {
  readonly received: number;
  readonly appended: number;
  readonly refusedBytes: number;
  readonly tornBytes: number;
}

export const RECEIVE_LIMITS = {
  /**
   * Bytes held while waiting for the rest of a message: the sender's spool reader sends no
   * message over 64 MiB, so more than that (and a little) without a whole message is not a
   * message in transit, and holding it would let one sender exhaust the collector's memory.
   */
  maxPendingBytes: 65 * 1024 * 1024,
} as const;

export async function receive(output: string, mode: number, io: ReceiveIo): Promise<ReceiveResult> {
  const file = await CollectorFile.open(output, mode);
  io.out(`${RECEIVE_HELLO}\n`);
  let pending: Buffer = Buffer.alloc(0);
  let received = 0;
  let appended = 0;
  let refusedBytes = 0;
  try {
    for await (const chunk of endOnError(io.stdin, io.err)) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      const messages: SpoolMessage[] = [];
      let pos = 0;
      for (let piece = nextPiece(pending, 0); piece !== null; piece = nextPiece(pending, pos)) {
        if (piece.kind !== 'message' && piece.end >= pending.length) break; // may still be arriving
        if (piece.kind === 'message') {
          messages.push({ bytes: Buffer.from(pending.subarray(piece.offset, piece.end)), armored: piece.armored });
        } else {
          refusedBytes += piece.end - piece.offset;
          io.err(`paranoid-pipes receive: refused ${piece.end - piece.offset} bytes that are no OpenPGP message (${piece.reason})\n`);
        }
        pos = piece.end;
      }
      pending = Buffer.from(pending.subarray(pos));
      if (messages.length > 0) {
        appended += await file.append(messages);
        received += messages.length;
        io.out(`ok ${received}\n`);
      }
      if (pending.length > RECEIVE_LIMITS.maxPendingBytes) {
        refusedBytes += pending.length;
        io.err(`paranoid-pipes receive: refused ${pending.length} bytes that hold no whole OpenPGP message (over ${RECEIVE_LIMITS.maxPendingBytes} bytes); ending the connection\n`);
        pending = Buffer.alloc(0);
        break;
      }
    }
  } finally {
    await file.close();
  }
  const tornBytes = pending.toString('latin1').trim().length === 0 ? 0 : pending.length;
  if (tornBytes > 0) io.err(`paranoid-pipes receive: the connection ended inside a message; its ${tornBytes} bytes were not written (the sender sends it again)\n`);
  return { received, appended, refusedBytes, tornBytes };
}

/** A connection torn down mid-read ends the input like EOF: what is whole is kept, the rest is not. */
async function* endOnError(input: AsyncIterable<unknown>, err: (text: string) => void): AsyncGenerator<unknown> {
  try {
    for await (const chunk of input) yield chunk;
  } catch (e) {
    err(`paranoid-pipes receive: reading the connection failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ending it\n`);
  }
}
