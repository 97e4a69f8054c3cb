import type { Socket } from 'node:net';
import type { DrainThread } from '../drain-thread.ts';
import { drainNow, fifoSocket, type OpenedFifo } from '../fifo.ts';
import { Framer, type FramerOptions } from '../framer.ts';
import type { Source } from './source.ts';

/** Bytes handed on per chunk when taking from a drain thread's ring: a backpressure check between chunks, as between socket reads. */
const RING_CHUNK = 64 * 1024;

/**
 * One named pipe being read: its descriptor, its socket and a framer of its own. After the pipe
 * is replaced the copy reads the old and the new one side by side (a service that opened the old
 * one keeps writing there); separate framers keep a partial line of one from being joined to
 * bytes of the other.
 *
 * In a flood a drain thread (runtime/drain-thread.ts) may read it instead of the socket: the
 * socket is paused while the thread is engaged, and until its ring is empty again, so the bytes
 * reach the framer in pipe order whoever read them.
 */
export class PipeSource implements Source {
  readonly id = undefined;
  readonly framer: Framer;
  readonly socket: Socket;
  private deliver: ((chunk: Buffer) => void) | null = null;
  /** Reading (backpressure, stop) asked for no more chunks. */
  private paused = false;
  /** The drain thread reads, or its ring still holds bytes: the socket stays paused. */
  private engaged = false;
  /** A whenReady is pending. */
  private watching = false;

  constructor(
    readonly fifo: OpenedFifo,
    framerOptions: FramerOptions,
    private readonly drain: DrainThread | null = null,
  ) {
    this.framer = new Framer(framerOptions);
    this.socket = fifoSocket(fifo.fd, (chunk) => this.deliver?.(chunk));
  }

  /** Where chunks read by the socket go; null: nowhere (at stop, the stop loop pulls them itself). */
  onChunk(deliver: ((chunk: Buffer) => void) | null): void {
    this.deliver = deliver;
  }

  onFailure(handler: (err: Error) => void): void {
    this.socket.on('error', handler);
    this.drain?.onFailure(handler);
  }

  /** Stops reading at once: what is written meanwhile waits in the ring, then in the kernel's pipe buffer. */
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.engaged) this.socket.resume();
    else this.watch();
  }

  /** A drain thread reads for this pipe: a read seldom has only a few lines, no top-up needed. */
  get readAhead(): boolean {
    return this.engaged;
  }

  /** Reading reads a flood of short reads: the drain thread takes over the pipe, if there is one and it is up. */
  flood(): boolean {
    if (this.engaged) return true;
    if (this.paused || this.drain === null || this.deliver === null || !this.drain.readyOrStart()) return false;
    // The socket stops first (its last read has been handed on): from here only the thread reads.
    this.socket.pause();
    this.drain.engage();
    this.engaged = true;
    this.watch();
    return true;
  }

  /** From here only pullEverything takes data: the drain thread stops reading (what it read is in its ring). */
  holdStill(): void {
    this.drain?.park();
  }

  /**
   * Every byte written so far, synchronously: first what the drain thread read, then, once it is
   * parked and its ring empty, from the kernel's pipe buffer. The socket keeps nothing of its own.
   */
  pullEverything(take: (chunk: Buffer) => void, maxBytes = Number.POSITIVE_INFINITY): number {
    let total = 0;
    if (this.engaged) {
      const drain = this.drain as DrainThread;
      total = drain.take(take, maxBytes);
      if (drain.running || drain.buffered > 0) return total;
      this.disengage();
    }
    return total + drainNow(this.fifo.fd, take, maxBytes - total);
  }

  finalBlocks(): Buffer[] {
    return this.framer.flushAll();
  }

  originOf(): undefined {
    return undefined;
  }

  stop(): void {
    this.drain?.close();
    this.socket.destroy();
  }

  private watch(): void {
    if (this.watching || this.drain === null) return;
    this.watching = true;
    this.drain.whenReady(() => this.pump());
  }

  /** The ring has bytes or the thread parked: hands the bytes on while reading takes them. */
  private pump(): void {
    this.watching = false;
    const drain = this.drain as DrainThread;
    if (!this.engaged) return;
    const more = () => !this.paused && this.deliver !== null;
    // At most a ringful per turn: a writer refilling the ring as fast as it is taken must not keep the loop from sealing.
    for (let got = 0, n = 1; n > 0 && got < drain.ringBytes; got += n) n = drain.take((chunk) => this.deliver?.(chunk), RING_CHUNK, more);
    if (this.paused || this.deliver === null) return; // resume() or the stop loop go on
    if (drain.running || drain.buffered > 0) {
      this.watch();
      return;
    }
    this.disengage();
  }

  /**
   * The thread is parked and its ring empty: the socket reads again (unless paused). Whoever
   * found it so (the pump, or a pull), the parked thread is left to end once idle, its ring zeroed.
   */
  private disengage(): void {
    this.engaged = false;
    this.drain?.parkedByItself();
    if (!this.paused) this.socket.resume();
  }
}
