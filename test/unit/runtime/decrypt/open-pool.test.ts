import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { giveBack, OFFLOAD_MIN_BYTES, poolStats } from '../../../../runtime/decrypt/open-pool.ts';
import { LogDecrypter } from '../../../../runtime/decrypt/reader.ts';
import { decryptCollect, decryptWindowed } from '../../../helpers/decrypt.ts';
import { decryptionKeyOf, makeKey, testEncryptor, type TestKey } from '../../../helpers/keys.ts';

/**
 * Large blocks (a flood's) open on worker threads: same bytes, same order, same reports as on
 * the main thread, for binary and armored logs, compressed or not.
 */
let admin: TestKey;
/** On a single core there are no workers (open-pool.ts): the blocks open here, the counts stay. */
const workers = availableParallelism() >= 2 ? 1 : 0;
beforeAll(async () => {
  admin = await makeKey('pool@example.org');
});

const streamId = 'cd'.repeat(16);
/** Lines of random hex: they barely compress, so every block stays above the offload size. */
const bigBlock = (seq: number) => Buffer.from(Array.from({ length: 700 }, (_, i) => `block=${seq} line=${i} ${randomBytes(100).toString('hex')}\n`).join(''));

async function logOf(blocks: readonly Buffer[], compress: 'zlib' | 'none', armor: boolean, recipients: readonly string[] = [admin.publicArmored]): Promise<Buffer[]> {
  const enc = await testEncryptor(recipients, compress, armor, 60_000);
  const out: Buffer[] = [];
  for (const [seq, b] of blocks.entries()) out.push(Buffer.from(await enc.seal(b, { streamId, seq, kind: 'data' }, new Date())));
  return out;
}

describe('opening large blocks on worker threads', () => {
  it('gives every block back in order (zlib armored, uncompressed binary), read whole or in odd chunks', async () => {
    const blocks = Array.from({ length: 12 }, (_, i) => bigBlock(i));
    expect(blocks[0]!.length).toBeGreaterThan(2 * OFFLOAD_MIN_BYTES);
    const before = poolStats.opened;
    for (const [compress, armor] of [['zlib', true], ['none', false]] as const) {
      const log = Buffer.concat(await logOf(blocks, compress, armor));
      for (const chunks of [undefined, [100_000, 7_777, 250_000]]) {
        const { data, problems } = await decryptCollect([admin.privateKey], log, chunks);
        expect(problems).toEqual([]);
        expect(Buffer.concat(data).equals(Buffer.concat(blocks))).toBe(true);
      }
    }
    // All on workers but the first large block of the process, opened while they start.
    expect(poolStats.opened - before).toBeGreaterThanOrEqual(workers * (4 * blocks.length - 1));
  });

  it('reports a damaged large block in the middle and keeps every other block, in order', async () => {
    const blocks = Array.from({ length: 6 }, (_, i) => bigBlock(i));
    const messages = await logOf(blocks, 'zlib', false);
    const bad = Buffer.from(messages[3]!);
    bad[bad.length - 1000]! ^= 0x55; // inside the encrypted body: the MDC fails (in the worker)
    messages[3] = bad;
    const { data, problems } = await decryptCollect([admin.privateKey], Buffer.concat(messages));
    expect(Buffer.concat(data).equals(Buffer.concat([0, 1, 2, 4, 5].map((i) => blocks[i]!)))).toBe(true);
    // In a binary log the search for the next message inside the damaged one may also meet a
    // false start in its ciphertext (reported as such): the two reports that must be there are.
    expect(problems[0]!.kind).toBe('undecryptable');
    expect(problems.map((p) => p.kind)).toContain('missing-blocks');
    expect(problems[0]!.detail).toMatch(/Modification detected/);
  });

  it('decodes large armored blocks on the workers, a damaged one in the middle reported and the rest kept, read into a window or in chunks', async () => {
    const blocks = Array.from({ length: 7 }, (_, i) => bigBlock(i));
    const messages = await logOf(blocks, 'zlib', true);
    const bad = Buffer.from(messages[3]!);
    // One base64 character inside the body changed to another: the MDC fails on the worker.
    let at = bad.length - 2000;
    if (bad[at] === 0x0a) at += 1;
    bad[at] = bad[at] === 0x41 ? 0x42 : 0x41;
    messages[3] = bad;
    const log = Buffer.concat(messages);
    const before = poolStats.fromArmor;
    for (const read of [(b: Buffer) => decryptWindowed([admin.privateKey], b, 300_000), (b: Buffer) => decryptCollect([admin.privateKey], b, [123_457])]) {
      const { data, problems } = await read(log);
      expect(Buffer.concat(data).equals(Buffer.concat([0, 1, 2, 4, 5, 6].map((i) => blocks[i]!)))).toBe(true);
      expect(problems.map((p) => p.kind)).toEqual(['undecryptable', 'missing-blocks']);
      expect(problems[0]!.offset).toBe(messages.slice(0, 3).reduce((n, m) => n + m.length, 0));
      expect(problems[0]!.detail).toMatch(/Modification detected/);
    }
    // Decoded from armor on a worker: all but the damaged one (whose decoding is not counted).
    expect(poolStats.fromArmor - before).toBeGreaterThanOrEqual(workers * (2 * (blocks.length - 1) - 1));
  });

  it('opens large armored blocks whose key packets do not fit the decoded head (many recipients) the usual way', async () => {
    const others = await Promise.all(Array.from({ length: 19 }, (_, i) => makeKey(`other${i}@example.org`)));
    const blocks = Array.from({ length: 4 }, (_, i) => bigBlock(i));
    const messages = await logOf(blocks, 'zlib', true, [...others.map((k) => k.publicArmored), admin.publicArmored]);
    const before = { ...poolStats };
    const { data, problems } = await decryptWindowed([admin.privateKey], Buffer.concat(messages), 1 << 20);
    expect(problems).toEqual([]);
    expect(Buffer.concat(data).equals(Buffer.concat(blocks))).toBe(true);
    expect(poolStats.fromArmor).toBe(before.fromArmor);
    expect(poolStats.opened - before.opened).toBeGreaterThanOrEqual(workers * (blocks.length - 1));
  });

  it('takes back a block\'s output buffer only whole, and inflates the next blocks into it unchanged', async () => {
    const blocks = Array.from({ length: 16 }, (_, i) => bigBlock(i));
    const log = Buffer.concat(await logOf(blocks, 'zlib', false));
    const data: Buffer[] = [];
    let givenBack = 0;
    let keptWhole = 0;
    const decrypter = new LogDecrypter([decryptionKeyOf(admin.privateKey)], {
      data: (b) => {
        data.push(Buffer.from(b));
        const length = b.byteLength;
        // A part of a block is never taken (something may still read the rest of it).
        giveBack(b.subarray(1));
        if (b.byteLength === length) keptWhole += 1;
        giveBack(b);
        if (b.byteLength === 0) givenBack += 1; // handed to its worker: gone from this thread
      },
      control: () => {},
      problem: () => {},
    });
    await decrypter.decryptBuffer(log, 'log');
    expect(Buffer.concat(data).equals(Buffer.concat(blocks))).toBe(true);
    expect(keptWhole).toBe(blocks.length);
    // Every block opened on a worker goes back; the first of the process may open here.
    expect(givenBack).toBeGreaterThanOrEqual(workers * (blocks.length - 1));
  });
});
