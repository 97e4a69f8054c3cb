import { describe, expect, it } from 'vitest';
import { OutputBatch } from '../../../../runtime/decrypt/output-batch.ts';

const bytes = (text: string) => Buffer.from(text);

describe('OutputBatch', () => {
  it('holds small pieces until the limit, then writes them as one', async () => {
    const writes: string[] = [];
    const batch = new OutputBatch(async (b) => void writes.push(Buffer.from(b).toString()), 8);
    await batch.add(bytes('abc'));
    await batch.add(bytes('def'));
    expect(writes).toEqual([]);
    await batch.add(bytes('gh'));
    expect(writes).toEqual(['abcdefgh']);
    await batch.add(bytes('i'));
    await batch.flush();
    expect(writes).toEqual(['abcdefgh', 'i']);
    await batch.flush(); // nothing left: no empty write
    expect(writes).toEqual(['abcdefgh', 'i']);
  });

  it('keeps the order of bytes added while an earlier write is still running', async () => {
    const writes: string[] = [];
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => (release = r));
    let first = true;
    const batch = new OutputBatch(async (b) => {
      if (first) {
        first = false;
        await slow;
      }
      writes.push(Buffer.from(b).toString());
    }, 4);
    const a = batch.add(bytes('1111')); // starts a write that waits
    const b = batch.add(bytes('2222')); // must not overtake it
    await batch.add(bytes('3'));
    const done = batch.flush();
    release();
    await Promise.all([a, b, done]);
    expect(writes).toEqual(['1111', '2222', '3']);
  });

  it('passes a failed write on to whoever waits for it', async () => {
    const batch = new OutputBatch(async () => {
      throw new Error('EPIPE');
    }, 4);
    await batch.add(bytes('12'));
    await expect(batch.flush()).rejects.toThrow('EPIPE');
  });
});
