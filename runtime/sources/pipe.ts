import type { Socket } from 'node:net';
import { drainNow, fifoSocket, type OpenedFifo } from '../fifo.ts';
import { Framer, type FramerOptions } from '../framer.ts';
import type { Source } from './source.ts';

/**
 * One named pipe being read: its descriptor, its socket and a framer of its own. After the pipe
 * is replaced the copy reads the old and the new one side by side (a service that opened the old
 * one keeps writing there); separate framers keep a partial line of one from being joined to
 * bytes of the other.
 */
export class PipeSource implements Source {
  readonly id = undefined;
  readonly framer: Framer;
  readonly socket: Socket;
  private deliver: ((chunk: Buffer) => void) | null = null;

  constructor(
    readonly fifo: OpenedFifo,
    framerOptions: FramerOptions,
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
  }

  /** Stops reading at once: what is written meanwhile waits in the kernel's pipe buffer. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Every byte written so far, synchronously, from the kernel's pipe buffer. The socket keeps
   * nothing of its own: each read is handed on as it happens.
   */
  pullEverything(take: (chunk: Buffer) => void, maxBytes?: number): number {
    return drainNow(this.fifo.fd, take, maxBytes);
  }

  finalBlocks(): Buffer[] {
    return this.framer.flushAll();
  }

  originOf(): undefined {
    return undefined;
  }

  stop(): void {
    this.socket.destroy();
  }
}
