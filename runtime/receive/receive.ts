import { nextPiece } from '../format/split.ts';
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
  const pending = new PendingBytes();
  let received = 0;
  let appended = 0;
  let refusedBytes = 0;
  // The bytes held are the start of one armored message still without its END line: it can
  // only be complete (or known to be torn) once a line of dashes arrives, so the held bytes are
  // not searched again for every chunk of a large message (that was quadratic: a 60 MB archive
  // took tens of seconds of CPU).
  let armoredWaiting = false;
  try {
    for await (const chunk of endOnError(io.stdin, io.err)) {
      const before = pending.length;
      pending.append(chunk as Buffer);
      const held = pending.view();
      if (!armoredWaiting || held.indexOf(DASHES, Math.max(0, before - DASHES.length + 1)) >= 0) {
        const messages: SpoolMessage[] = [];
        let pos = 0;
        for (let piece = nextPiece(held, 0); piece !== null; piece = nextPiece(held, pos)) {
          if (piece.kind !== 'message' && piece.end >= held.length) break; // may still be arriving
          if (piece.kind === 'message') {
            messages.push({ bytes: Buffer.from(held.subarray(piece.offset, piece.end)), armored: piece.armored });
          } else {
            refusedBytes += piece.end - piece.offset;
            io.err(`paranoid-pipes receive: refused ${piece.end - piece.offset} bytes that are no OpenPGP message (${piece.reason})\n`);
          }
          pos = piece.end;
        }
        pending.consume(pos);
        armoredWaiting = startsArmored(pending.view());
        if (messages.length > 0) {
          appended += await file.append(messages);
          received += messages.length;
          io.out(`ok ${received}\n`);
        }
      }
      if (pending.length > RECEIVE_LIMITS.maxPendingBytes) {
        refusedBytes += pending.length;
        io.err(`paranoid-pipes receive: refused ${pending.length} bytes that hold no whole OpenPGP message (over ${RECEIVE_LIMITS.maxPendingBytes} bytes); ending the connection\n`);
        pending.consume(pending.length);
        break;
      }
    }
  } finally {
    await file.close();
  }
  const tornBytes = pending.view().toString('latin1').trim().length === 0 ? 0 : pending.length;
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

/** Both armor lines start with it; base64 never holds a dash. */
const DASHES = Buffer.from('-----');
const BEGIN = Buffer.from('-----BEGIN PGP MESSAGE-----');

/** Whether `buf`, after white space, starts with an armor BEGIN line. */
function startsArmored(buf: Buffer): boolean {
  let p = 0;
  while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09 || buf[p] === 0x0a || buf[p] === 0x0d)) p += 1;
  return buf.length - p >= BEGIN.length && buf.compare(BEGIN, 0, BEGIN.length, p, p + BEGIN.length) === 0;
}

/**
 * The bytes received and not yet taken, in one buffer that grows by doubling, so a message
 * arriving in many chunks is copied a bounded number of times instead of once per chunk.
 */
class PendingBytes {
  private buf = Buffer.alloc(0);
  length = 0;

  append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.length + chunk.length, 2 * this.buf.length, 64 * 1024));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }

  /** The bytes held, as a view: valid until the next append or consume. */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Drops the first `n` bytes; a buffer left empty is given up. */
  consume(n: number): void {
    if (n === 0) return;
    if (n >= this.length) {
      this.buf = Buffer.alloc(0);
      this.length = 0;
      return;
    }
    this.buf.copyWithin(0, n, this.length);
    this.length -= n;
  }
}
