import type * as zlib from 'node:zlib';

/**
 * Inflates a worker's blocks through one zlib state per algorithm, reset before every block,
 * into output buffers used again (`free`: given back by the main thread once it wrote a
 * block, open-pool.ts), instead of `inflateSync`, which builds a stream object and a native
 * state per call and inflates into fresh memory. A flood's 145 MB of text came back as page
 * faults every run, and the stream's set-up cost about as much again.
 *
 * Node has no public API for this: it drives the stream's native handle the way node's own
 * processChunkSync does (`_handle.writeSync`, `_writeState`, `_handle.reset`), as
 * runtime/small-deflate.ts does for deflate. Should a Node release change those internals,
 * this returns null when made (shape or output differs) and the caller inflates with
 * `inflateSync` as before. A failure inside a block (a damaged stream, output past `max`)
 * gives that block to `inflateSync`, which throws exactly as it did before, and the state is
 * made again for the next block.
 *
 * Self-contained (zlib comes in as `z`, only globals besides), as the worker threads run its
 * source text.
 */
export type InflateInto = (algorithm: 1 | 2, compressed: Uint8Array, guess: number, max: number) => Buffer;

export function reusedInflater(z: typeof zlib, free: ArrayBuffer[]): InflateInto | null {
  interface Handle {
    writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
    reset(): void;
  }
  interface Engine {
    readonly stream: { _handle?: Handle | null };
    readonly handle: Handle;
    readonly state: Uint32Array;
  }
  const engines = new Map<number, Engine>();
  const open = (algorithm: 1 | 2): Engine => {
    const stream = algorithm === 2 ? z.createInflate() : z.createInflateRaw();
    // A zlib error is thrown from inflate() below; the stream's own 'error' event, emitted on a
    // later tick, must not be an unhandled one.
    stream.on('error', () => {});
    const { _handle: handle, _writeState: state } = stream as unknown as { _handle?: Handle | null; _writeState?: Uint32Array };
    if (handle == null || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array)) {
      throw new Error('node:zlib internals differ');
    }
    return { stream: stream as unknown as Engine['stream'], handle, state };
  };
  const fallback = (algorithm: 1 | 2, compressed: Uint8Array, guess: number, max: number): Buffer => (algorithm === 2 ? z.inflateSync : z.inflateRawSync)(compressed, { maxOutputLength: max, chunkSize: guess });

  const inflate: InflateInto = (algorithm, compressed, guess, max) => {
    let engine = engines.get(algorithm);
    try {
      if (engine === undefined) engines.set(algorithm, (engine = open(algorithm)));
      // The smallest buffer given back that holds the guess (a small block must not take the
      // one a large block needs), else a fresh one of the next power of two, so blocks of about
      // the same size (a flood's) fit the buffers of the blocks before.
      let i = -1;
      for (let j = 0; j < free.length; j += 1) if ((free[j] as ArrayBuffer).byteLength >= guess && (i < 0 || (free[j] as ArrayBuffer).byteLength < (free[i] as ArrayBuffer).byteLength)) i = j;
      let out = i >= 0 ? Buffer.from(free.splice(i, 1)[0] as ArrayBuffer) : Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(64 * 1024, guess))));
      engine.handle.reset();
      // A failed reset or write (zlib out of memory, a damaged stream) makes node destroy the
      // stream, which drops its handle; writing to a closed handle would abort the process.
      if (engine.stream._handle !== engine.handle) throw new Error('inflate reset failed');
      let written = 0;
      let inOff = 0;
      let inLeft = compressed.length;
      for (;;) {
        engine.handle.writeSync(z.constants.Z_FINISH, compressed, inOff, inLeft, out, written, out.length - written);
        if (engine.stream._handle !== engine.handle) throw new Error('inflate failed');
        const outLeft = engine.state[0] as number;
        const nowLeft = engine.state[1] as number;
        written = out.length - outLeft;
        inOff += inLeft - nowLeft;
        inLeft = nowLeft;
        if (written > max) throw new Error('inflated past the limit');
        // Output space left over means zlib finished the stream (or found its end).
        if (outLeft !== 0) break;
        const larger = Buffer.allocUnsafeSlow(Math.min(max + 1, out.length * 2));
        out.copy(larger, 0, 0, written);
        out = larger;
      }
      return out.subarray(0, written);
    } catch {
      engines.delete(algorithm);
      return fallback(algorithm, compressed, guess, max);
    }
  };

  // Checked once: twice per algorithm (the second proves that reset starts a fresh stream).
  try {
    const probe = Buffer.from('GET /probe HTTP/1.1 200 512 "-" "reused-inflate self-check"\n'.repeat(400), 'latin1');
    for (const [algorithm, packed] of [[2, z.deflateSync(probe)], [1, z.deflateRawSync(probe)]] as const) {
      for (let i = 0; i < 2; i += 1) {
        if (!inflate(algorithm, packed, 1024, 1 << 20).equals(probe) || !engines.has(algorithm)) return null;
      }
    }
  } catch {
    return null;
  }
  return inflate;
}
