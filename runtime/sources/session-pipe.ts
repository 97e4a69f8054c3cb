import { closeSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { COPY_LIMITS } from '../copy-limits.ts';
import { errnoCode } from '../errors.ts';
import { drainNow, fifoSocket } from '../fifo.ts';
import { Framer } from '../framer.ts';
import type { Source } from './source.ts';

/**
 * One login session's pipe (session-dir.ts). Opened read-only, so its end shows as end of file
 * once the session's writer (`script`) closes it. Until the writer has opened it, an empty read
 * means "nobody yet" and the group polls (waitForWriter); once connected, a socket reads it
 * through epoll like the main pipe, and its end ends the session.
 */
export class SessionPipe implements Source {
  readonly framer: Framer;
  private socket: Socket | null = null;
  private deliver: ((chunk: Buffer) => void) | null = null;
  private paused = false;
  private closed = false;
  /** At stop: one more drain of what is in the pipe, then nothing (a busy session must not hold the stop). */
  private drainsLeft = Number.POSITIVE_INFINITY;
  private ended: (() => void) | null = null;
  private failed: ((err: Error) => void) | null = null;

  constructor(
    readonly id: string,
    readonly fd: number,
  ) {
    // No quit string: whatever a user types must not stop the copy. Prompts (lines without a
    // newline) are sealed after the usual partial-line wait.
    this.framer = new Framer({ maxBlockBytes: COPY_LIMITS.maxBlockBytes, partialLineWaitMs: COPY_LIMITS.partialLineWaitMs, quitString: null });
  }

  /**
   * Before the writer came: true once it has (bytes, or "would block", which only a pipe with a
   * writer says), and then reading goes on by socket; false while nobody has opened it.
   */
  connect(onEnd: () => void): boolean {
    if (this.socket !== null) return true;
    const buf = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = readSync(this.fd, buf, 0, buf.length, null);
    } catch (err) {
      if (errnoCode(err) !== 'EAGAIN') throw err;
      n = -1;
    }
    if (n === 0) return false;
    if (n > 0) this.deliver?.(Buffer.from(buf.subarray(0, n)));
    this.ended = onEnd;
    this.socket = fifoSocket(this.fd, (chunk) => this.deliver?.(chunk));
    this.socket.on('end', () => this.ended?.());
    this.socket.on('error', (err) => (this.failed === null ? this.ended?.() : this.failed(err)));
    if (this.paused) this.socket.pause();
    return true;
  }

  onChunk(deliver: ((chunk: Buffer) => void) | null): void {
    this.deliver = deliver;
  }

  onFailure(handler: (err: Error) => void): void {
    this.failed = handler;
  }

  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket?.resume();
  }

  pullEverything(take: (chunk: Buffer) => void, maxBytes?: number): number {
    if (this.closed || this.socket === null || this.drainsLeft <= 0) return 0;
    this.drainsLeft -= 1;
    return drainNow(this.fd, take, maxBytes);
  }

  /** The copy stops: what the session wrote so far is taken once more, what it writes on is not. */
  stopReading(): void {
    this.drainsLeft = Math.min(this.drainsLeft, 1);
    this.socket?.pause();
  }

  finalBlocks(): Buffer[] {
    return this.framer.flushAll();
  }

  originOf(): { source: string } {
    return { source: this.id };
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.ended = null;
    if (this.socket !== null) this.socket.destroy();
    else closeSync(this.fd);
  }
}
