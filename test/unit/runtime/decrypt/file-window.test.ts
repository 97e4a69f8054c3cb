import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FileWindow, type ReadInto } from '../../../../runtime/decrypt/file-window.ts';

/** A file of `src`'s bytes, at most `maxRead` a read; counts the reads. */
function fileOf(src: Buffer, maxRead: number): { readInto: ReadInto; reads: () => number } {
  let at = 0;
  let reads = 0;
  return {
    readInto: async (target, offset) => {
      reads += 1;
      const n = src.copy(target, offset, at, Math.min(src.length, at + maxRead, at + target.length - offset));
      at += n;
      return n;
    },
    reads: () => reads,
  };
}

describe('FileWindow', () => {
  it('gives the file in order, what is kept included, across moves to other windows', async () => {
    const src = randomBytes(5000);
    const file = fileOf(src, 37);
    const window = new FileWindow(file.readInto, 256);
    let base = 0; // file offset of bytes[0]
    let keepFrom = 0;
    for (let step = 0; ; step += 1) {
      const { read, dropped } = await window.more(keepFrom);
      base += dropped;
      keepFrom -= dropped;
      const bytes = window.bytes;
      expect(bytes.equals(src.subarray(base, base + bytes.length))).toBe(true);
      if (read === 0) {
        expect(base + bytes.length).toBe(src.length);
        break;
      }
      // The reader moves on by some bytes, sometimes none (a piece cut by the window's end).
      keepFrom = Math.min(bytes.length, keepFrom + (step % 3 === 0 ? 0 : 50));
    }
  });

  it('reads the next part while the reader works on the last one', async () => {
    const file = fileOf(randomBytes(1000), 100);
    const window = new FileWindow(file.readInto, 4096);
    await window.more(0);
    expect(file.reads()).toBe(2); // the one waited for and the next, already started
  });

  it('does not write over a window while an open still reads it', async () => {
    const window = new FileWindow(fileOf(randomBytes(4000), 64).readInto, 256);
    await window.more(0);
    const view = window.bytes.subarray(0, 32);
    const copy = Buffer.from(view);
    window.hold(new Promise<void>(() => {})); // never settles
    for (let i = 0; i < 60; i += 1) await window.more(Math.max(0, window.bytes.length - 10)); // many moves
    expect(view.equals(copy)).toBe(true);
  });

  it('reads into a window left behind again once nothing reads it', async () => {
    const window = new FileWindow(fileOf(randomBytes(4000), 64).readInto, 256);
    await window.more(0);
    const view = window.bytes.subarray(0, 32);
    const copy = Buffer.from(view);
    let release: () => void = () => {};
    window.hold(new Promise<void>((resolve) => (release = resolve)));
    release();
    let changed = false;
    for (let i = 0; i < 20 && !changed; i += 1) {
      await window.more(Math.max(0, window.bytes.length - 10));
      changed = !view.equals(copy);
    }
    expect(changed).toBe(true);
  });

  it('hands a failed read to the next caller, not to the process', async () => {
    let calls = 0;
    const window = new FileWindow(async (target, offset) => {
      calls += 1;
      if (calls === 2) throw new Error('EIO');
      target.fill(1, offset, offset + 10);
      return 10;
    }, 256);
    await window.more(0); // the second read fails while nobody waits for it
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(window.more(0)).rejects.toThrow('EIO');
  });
});
