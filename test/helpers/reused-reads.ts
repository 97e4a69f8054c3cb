/**
 * Reads of `input` as runtime/fifo.ts makes them from a pipe: random sizes up to 64 KiB, every
 * one landing in the same buffer. Each read is yielded as a view of that buffer, which is
 * overwritten as soon as the consumer asks for the next: whoever keeps a read's bytes must have
 * copied them.
 */
export function* reusedReads(input: Buffer): Generator<Buffer> {
  const readBuffer = Buffer.alloc(64 * 1024);
  for (let at = 0; at < input.length; ) {
    const n = Math.min(1 + Math.floor(Math.random() * readBuffer.length), input.length - at);
    input.copy(readBuffer, 0, at, at + n);
    at += n;
    yield readBuffer.subarray(0, n);
    readBuffer.fill(0x2a);
  }
}
