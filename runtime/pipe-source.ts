import type { Socket } from 'node:net';
import { drainNow, fifoSocket, type OpenedFifo } from './fifo.ts';
import { Framer, type FramerOptions } from './framer.ts';

/**
 * One named pipe being read: its descriptor, its socket and a framer of its own. After the pipe
 * is replaced the copy reads the old and the new one side by side (a service that opened the old
 * one keeps writing there); separate framers keep a partial line of one from being joined to
 * bytes of the other.
 */
export class PipeSource {
  readonly framer: Framer;
  readonly socket: Socket;

  constructor(
    readonly fifo: OpenedFifo,
    framerOptions: FramerOptions,
  ) {
    this.framer = new Framer(framerOptions);
    this.socket = fifoSocket(fifo.fd);
  }

  /**
   * Every byte read so far, synchronously: first what the paused socket already holds in its own
   * buffer (a chunk libuv read before the pause), then what is in the kernel's pipe buffer.
   * Skipping the first would drop a chunk from the middle of the stream.
   */
  pullEverything(take: (chunk: Buffer) => void): number {
    let total = 0;
    for (let chunk = this.socket.read() as Buffer | null; chunk !== null; chunk = this.socket.read() as Buffer | null) {
      total += chunk.length;
      take(chunk);
    }
    return total + drainNow(this.fifo.fd, take);
  }
}
