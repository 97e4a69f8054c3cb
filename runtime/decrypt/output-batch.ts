import type { WriteBytes } from './output-text.ts';

/**
 * Collects the decrypted output into large writes. A trickle log holds tens of thousands of
 * blocks of a few KiB; one write per block (a thread-pool round trip for a file, a stream
 * callback for stdout) cost about a quarter of its decryption. Bytes are written once
 * BATCH_BYTES are collected, and whenever the reader is about to wait for more input
 * (`flush`), so a followed log or a stream shows each block as soon as it was read.
 *
 * Writes reach `write` strictly in the order their bytes were given, even when a problem's
 * output is added while an earlier batch is still being written.
 */
export const BATCH_BYTES = 256 * 1024;

export class OutputBatch {
  private parts: Uint8Array[] = [];
  private size = 0;
  /** The last write started: the next one waits for it. */
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: WriteBytes,
    private readonly limit = BATCH_BYTES,
    /** Told of every piece once its write succeeded (a worker's output buffer goes back to it). */
    private readonly afterWrite?: (bytes: Uint8Array) => void,
  ) {}

  /**
   * Takes the bytes (kept by reference, not copied: the caller must not change them afterwards,
   * even once this resolves, as their write may still be running). Once a batch is full its write is started,
   * and the caller waits only for the write before it: decrypting the next blocks overlaps this
   * write, and at most two batches are held. A piece of a batch's size or more (a flood's block)
   * is written by itself, not copied into a batch. With a limit of 0 nothing is held: every
   * piece is written at once and the caller waits for its own write.
   */
  readonly add: WriteBytes = async (bytes) => {
    if (bytes.byteLength === 0) return;
    if (bytes.byteLength >= this.limit) this.cut();
    this.parts.push(bytes);
    this.size += bytes.byteLength;
    if (this.size < this.limit) return;
    const before = this.written;
    this.cut();
    await (this.limit === 0 ? this.written : before);
  };

  /** Writes what was collected and waits until every write made so far is done. */
  flush(): Promise<void> {
    this.cut();
    return this.written;
  }

  /** Starts the write of what was collected, after the writes before it. */
  private cut(): void {
    if (this.parts.length === 0) return;
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    const bytes = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    const written = this.written.then(() => this.write(bytes));
    const done = this.afterWrite;
    if (done !== undefined) written.then(() => parts.forEach(done), () => {});
    // Nobody may be waiting on this write when it fails (the reader is busy with the next
    // blocks): marked as handled here, so that is no unhandled rejection, which would end the
    // process without its clean-up. The failure still reaches the next add or flush, which
    // wait on it, and every write after it is skipped.
    written.catch(() => {});
    this.written = written;
  }
}
