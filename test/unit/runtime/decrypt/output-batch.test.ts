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

  it('a write that fails while nobody waits on it is no unhandled rejection; the next add gets the error, and nothing after it is written', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const writes: string[] = [];
      const batch = new OutputBatch(async (b) => {
        const text = Buffer.from(b).toString();
        await new Promise((r) => setTimeout(r, 5));
        if (text === '2222') throw new Error('EIO');
        writes.push(text);
      }, 4);
      await batch.add(bytes('1111')); // its write starts; add waits only for the one before
      await batch.add(bytes('2222')); // waits for 1111's write; this one fails 5 ms later
      await new Promise((r) => setTimeout(r, 30)); // the reader busy elsewhere meanwhile
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      await batch.add(bytes('3333')).then(
        () => expect.unreachable('the failed write must reach the next add'),
        (err: Error) => expect(err.message).toBe('EIO'),
      );
      await expect(batch.flush()).rejects.toThrow('EIO');
      expect(writes).toEqual(['1111']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('writes a piece of a batch or more by itself, after what was collected before it, without copying it', async () => {
    const writes: Uint8Array[] = [];
    const batch = new OutputBatch(async (b) => void writes.push(b), 8);
    const big = bytes('0123456789');
    await batch.add(bytes('ab'));
    await batch.add(big);
    await batch.flush();
    expect(writes.map((w) => Buffer.from(w).toString())).toEqual(['ab', '0123456789']);
    expect(writes[1]).toBe(big);
  });

  it('lets the caller go on while its batch is written, and holds it when the batch before is still being written', async () => {
    const releases: Array<() => void> = [];
    const writes: string[] = [];
    const batch = new OutputBatch((b) => new Promise<void>((r) => releases.push(() => (writes.push(Buffer.from(b).toString()), r()))), 4);
    await batch.add(bytes('1111')); // its write starts; nothing before it to wait for
    let second = false;
    const b = batch.add(bytes('2222')).then(() => (second = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBe(false); // waits for the first write
    releases.shift()!();
    await b;
    expect(writes).toEqual(['1111']);
    const done = batch.flush();
    await new Promise((r) => setTimeout(r, 0));
    releases.shift()!();
    await done;
    expect(writes).toEqual(['1111', '2222']);
  });

  it('with a limit of 0 holds nothing: each piece is written before add resolves', async () => {
    const writes: string[] = [];
    const batch = new OutputBatch(async (b) => {
      await new Promise((r) => setTimeout(r, 5));
      writes.push(Buffer.from(b).toString());
    }, 0);
    await batch.add(bytes('a'));
    expect(writes).toEqual(['a']);
    await batch.add(bytes('bc'));
    expect(writes).toEqual(['a', 'bc']);
  });
});

describe('OutputBatch afterWrite', () => {
  it('is told of each piece only once the write holding it succeeded, not of a failed one', async () => {
    const told: string[] = [];
    const writes: string[] = [];
    let fail = false;
    let release: () => void = () => {};
    const batch = new OutputBatch(
      async (b) => {
        await new Promise<void>((r) => (release = r));
        if (fail) throw new Error('disk full');
        writes.push(Buffer.from(b).toString());
      },
      4,
      (b) => told.push(Buffer.from(b).toString()),
    );
    const big = batch.add(bytes('large')); // a piece past the limit: written by itself
    await new Promise((r) => setTimeout(r, 0));
    expect(told).toEqual([]); // its write is still running
    release();
    await big;
    await batch.add(bytes('a'));
    await batch.add(bytes('b'));
    const done = batch.flush();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await done;
    expect(writes).toEqual(['large', 'ab']);
    expect(told).toEqual(['large', 'a', 'b']);
    fail = true;
    await batch.add(bytes('cc'));
    const failed = batch.flush();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await expect(failed).rejects.toThrow('disk full');
    expect(told).toEqual(['large', 'a', 'b']);
  });
});
