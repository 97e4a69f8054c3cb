import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { reusedInflater } from '../../../../runtime/decrypt/reused-inflate.ts';

const MAX = 256 * 1024 * 1024;
/** Log-like text with some random hex, so it inflates about fourfold, of `lines` lines. */
const text = (lines: number, seed: string) => Buffer.from(Array.from({ length: lines }, (_, i) => `${seed} GET /x/${i} 200 ${randomBytes(8).toString('hex')}\n`).join(''));
const caught = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
};

describe('reusedInflater', () => {
  it('gives what inflateSync gives, block after block, zlib and raw, into buffers given back (grown when too small)', () => {
    const free: ArrayBuffer[] = [];
    const inflate = reusedInflater(zlib, free);
    expect(inflate).not.toBeNull();
    let reused = 0;
    for (const [i, lines] of [10, 5000, 300, 20000, 7000, 1, 20000].entries()) {
      const plain = text(lines, `b${i}`);
      for (const [algorithm, packed] of [[2, zlib.deflateSync(plain)], [1, zlib.deflateRawSync(plain)]] as const) {
        const expected = algorithm === 2 ? zlib.inflateSync(packed) : zlib.inflateRawSync(packed);
        const given = free[0];
        // A guess well below the size: the output must grow past the buffer and stay whole.
        const out = inflate!(algorithm, packed, Math.max(1024, packed.length), MAX);
        expect(out.equals(expected)).toBe(true);
        expect(out.equals(plain)).toBe(true);
        if (given !== undefined && out.buffer === given) reused += 1;
        free.length = 0;
        free.push(out.buffer as ArrayBuffer); // given back, as the main thread does after the write
      }
    }
    expect(reused).toBeGreaterThan(5);
  });

  it('fails a damaged or truncated stream as inflateSync does, and inflates the next block as before', () => {
    const inflate = reusedInflater(zlib, [])!;
    const plain = text(3000, 'd');
    const packed = zlib.deflateSync(plain);
    const damaged = Buffer.from(packed);
    damaged[200]! ^= 0xff;
    for (const bad of [damaged, packed.subarray(0, packed.length - 100), Buffer.from('not zlib at all')]) {
      const expected = caught(() => zlib.inflateSync(bad));
      const got = caught(() => inflate(2, bad, 64 * 1024, MAX));
      expect(got.message).toBe(expected.message);
      expect((got as NodeJS.ErrnoException).code).toBe((expected as NodeJS.ErrnoException).code);
      expect(inflate(2, packed, 64 * 1024, MAX).equals(plain)).toBe(true);
    }
    // Bytes after the end of the stream are ignored, as inflateSync ignores them.
    const trailing = Buffer.concat([packed, Buffer.from('trailing')]);
    expect(inflate(2, trailing, 64 * 1024, MAX).equals(zlib.inflateSync(trailing))).toBe(true);
  });

  it('refuses output past the limit with inflateSync\'s error', () => {
    const inflate = reusedInflater(zlib, [])!;
    const packed = zlib.deflateSync(Buffer.alloc(4 * 1024 * 1024, 0x61));
    const expected = caught(() => zlib.inflateSync(packed, { maxOutputLength: 1024 * 1024 }));
    const got = caught(() => inflate(2, packed, 64 * 1024, 1024 * 1024));
    expect(got).toBeInstanceOf(RangeError);
    expect((got as NodeJS.ErrnoException).code).toBe((expected as NodeJS.ErrnoException).code);
    expect(inflate(2, packed, 64 * 1024, MAX).length).toBe(4 * 1024 * 1024);
  });

  it('is null when node\'s zlib streams lack the internals it drives', () => {
    const fake = { ...zlib, createInflate: () => new PassThrough(), createInflateRaw: () => new PassThrough() } as unknown as typeof zlib;
    expect(reusedInflater(fake, [])).toBeNull();
  });
});
