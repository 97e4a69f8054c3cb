import { randomBytes } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createSmallDeflate } from '../../../runtime/small-deflate.ts';

const OPTIONS = { level: 1, windowBits: 14, memLevel: 5 } as const;

/** A burst of log-like lines: compressible, and alike from block to block (so a stream that
 * wrongly continued the previous block's would reference it and come out different). */
function burst(i: number, lines: number): Buffer {
  let text = '';
  for (let n = 0; n < lines; n += 1) text += `10.0.${n % 7}.${i % 250} - - [02/Dec/2026:04:25:${n % 60}] "GET /item/${(i * 31 + n) % 977} HTTP/1.1" 200 ${512 + n} rid=${i * lines + n}\n`;
  return Buffer.from(text, 'latin1');
}

describe('small deflate: one zlib state reset between blocks', () => {
  it('gives every block the same stream a fresh deflateSync gives, each inflating alone', () => {
    const small = createSmallDeflate(OPTIONS);
    expect(small).not.toBeNull();
    const blocks = [Buffer.alloc(0), Buffer.from('x'), ...Array.from({ length: 300 }, (_, i) => burst(i, 1 + (i % 40))), randomBytes(16 * 1024), burst(1, 20), burst(1, 20)];
    for (const block of blocks) {
      const out = small!.deflate(block);
      expect(out.equals(deflateSync(block, OPTIONS))).toBe(true);
      expect(inflateSync(out).equals(block)).toBe(true);
    }
  });

  it('returns bytes of its own: the next block does not overwrite the last one handed out', () => {
    const small = createSmallDeflate(OPTIONS)!;
    const first = small.deflate(burst(1, 20));
    const copy = Buffer.from(first);
    small.deflate(burst(2, 30));
    expect(first.equals(copy)).toBe(true);
  });

  it('finishes a stream larger than its output buffer (incompressible input)', () => {
    const small = createSmallDeflate(OPTIONS)!;
    const big = randomBytes(100_000);
    const out = small.deflate(big);
    expect(out.equals(deflateSync(big, OPTIONS))).toBe(true);
    // And is reset properly after it.
    expect(small.deflate(burst(3, 5)).equals(deflateSync(burst(3, 5), OPTIONS))).toBe(true);
  });

  it('a zlib failure (in the write or in the reset, which closes the handle) still gives that block its stream, through deflateSync, and a fresh state after it', () => {
    interface Internals { engine: { _handle: unknown }; handle: { writeSync: (...a: unknown[]) => void; reset: () => void } }
    const small = createSmallDeflate(OPTIONS)!;
    const inner = small as unknown as Internals;
    // The write fails once.
    const failing = inner.handle;
    failing.writeSync = () => {
      throw new Error('zlib: out of memory');
    };
    expect(small.deflate(burst(1, 20)).equals(deflateSync(burst(1, 20), OPTIONS))).toBe(true);
    expect(inner.handle).not.toBe(failing);
    // The reset fails as node reports it: the stream destroyed, its handle dropped.
    const reset = inner.handle.reset.bind(inner.handle);
    inner.handle.reset = () => {
      reset();
      inner.engine._handle = null;
    };
    expect(small.deflate(burst(2, 20)).equals(deflateSync(burst(2, 20), OPTIONS))).toBe(true);
    // Blocks after both go through a working state again.
    for (let i = 3; i < 6; i += 1) expect(small.deflate(burst(i, 20)).equals(deflateSync(burst(i, 20), OPTIONS))).toBe(true);
  });
});
