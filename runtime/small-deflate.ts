import { constants, createDeflate, deflateSync, type Deflate, type ZlibOptions } from 'node:zlib';

/**
 * Deflates small blocks (a trickle's bursts) through one zlib state, reset before every block,
 * instead of node's deflateSync, which builds a whole stream object (a Transform with its
 * states and listeners, and a native zlib state allocated and partly zeroed) for every call and
 * closes it after one. Under a steady trickle of ~100 blocks a second that set-up cost about as
 * much CPU as deflating itself.
 *
 * Every block is still its own complete zlib stream: `deflateReset` starts the state afresh
 * (empty hash table, position 0, new header), so nothing of one block can be referenced from
 * the next, and the output is byte for byte what deflateSync gives with the same options
 * (checked once when the state is made, below, and in the tests). The state's window holds
 * the last small block's plaintext in memory until the next block overwrites it, as the freed
 * state of a fresh deflate did before; nothing writes it to a file.
 *
 * Node has no public API for a reusable synchronous deflate: this drives the stream's native
 * handle the way node's own processChunkSync does (`_handle.writeSync`, `_writeState`,
 * `_handle.reset`). Those internals have not changed since Node 10; should a Node release
 * change them, `createSmallDeflate` finds out when it is made (shape or output differs) and
 * the copy falls back to deflateSync.
 */
export interface SmallDeflate {
  deflate(input: Uint8Array): Buffer;
}

/** What node's zlib stream keeps inside: only what this module uses. */
interface NativeZlib {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}

interface EngineInternals {
  _handle?: NativeZlib | null;
  _writeState?: Uint32Array;
}

/**
 * Output space per writeSync: a whole small block's stream fits (deflate never grows data by
 * more than a few bytes per 16 KiB), so one call finishes it; a larger one loops.
 */
const OUT_BYTES = 32 * 1024;

/** Self-check input: compressible text, repeated, so matches and the header are exercised. */
const PROBE = Buffer.from('GET /probe HTTP/1.1 200 512 "-" "small-deflate self-check"\n'.repeat(40), 'latin1');

/** A reusable deflate for `options`, or null when node's internals are not as expected. */
export function createSmallDeflate(options: ZlibOptions): SmallDeflate | null {
  let engine: Reusable;
  try {
    engine = new Reusable(options);
    // Twice: the second proves that reset gives a fresh stream, not one continuing the first.
    const expected = deflateSync(PROBE, options);
    for (let i = 0; i < 2; i += 1) if (!engine.deflate(PROBE).equals(expected)) return null;
  } catch {
    return null;
  }
  return engine;
}

class Reusable implements SmallDeflate {
  private engine: Deflate;
  private handle: NativeZlib;
  private state: Uint32Array;
  private readonly out = Buffer.allocUnsafe(OUT_BYTES);

  constructor(private readonly options: ZlibOptions) {
    [this.engine, this.handle, this.state] = Reusable.open(options);
  }

  private static open(options: ZlibOptions): [Deflate, NativeZlib, Uint32Array] {
    const engine = createDeflate(options);
    // A zlib error is thrown from deflate() below; the stream's own 'error' event, emitted on a
    // later tick, must not be an unhandled one.
    engine.on('error', () => {});
    const { _handle: handle, _writeState: state } = engine as unknown as EngineInternals;
    if (handle == null || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array)) {
      throw new Error('node:zlib internals differ');
    }
    return [engine, handle, state];
  }

  /** Set when the state could not be made again after a failure: deflateSync from then on. */
  private broken = false;

  deflate(input: Uint8Array): Buffer {
    if (this.broken) return deflateSync(input, this.options);
    const parts: Buffer[] = [];
    let total = 0;
    let inOff = 0;
    let inLeft = input.length;
    try {
      // Reset now rather than after the last block: it clears the hash table, and the block
      // then finds that table in the cache instead of ~10 ms colder (a state reset after each
      // block spent more on cache misses than it saved).
      this.handle.reset();
      // A failed reset (zlib's lazy set-up out of memory) makes node destroy the stream and
      // close the handle; writing to a closed handle would abort the process.
      if ((this.engine as unknown as EngineInternals)._handle !== this.handle) throw new Error('deflate reset failed');
      for (;;) {
        this.handle.writeSync(constants.Z_FINISH, input, inOff, inLeft, this.out, 0, OUT_BYTES);
        // On a zlib error node destroys the stream, which drops its handle.
        if ((this.engine as unknown as EngineInternals)._handle !== this.handle) throw new Error('deflate failed');
        const outLeft = this.state[0] as number;
        const nowLeft = this.state[1] as number;
        const produced = OUT_BYTES - outLeft;
        // Copied out: the scratch buffer is reused by the next block, possibly before this one's
        // caller has used its bytes.
        parts.push(Buffer.from(this.out.subarray(0, produced)));
        total += produced;
        inOff += inLeft - nowLeft;
        inLeft = nowLeft;
        // Output space left over means zlib finished the stream.
        if (outLeft !== 0) break;
      }
    } catch {
      // Whatever state the failure left is not used again; this block goes through a fresh
      // deflateSync (which throws as before if zlib fails there too), and so does every later
      // one if a new state cannot be made.
      try {
        [this.engine, this.handle, this.state] = Reusable.open(this.options);
      } catch {
        this.broken = true;
      }
      return deflateSync(input, this.options);
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
  }
}
