import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { OFFLOAD_MIN_BYTES, poolStats } from '../../../../runtime/decrypt/open-pool.ts';
import { decryptCollect } from '../../../helpers/decrypt.ts';
import { makeKey, testEncryptor, type TestKey } from '../../../helpers/keys.ts';

/**
 * Large blocks (a flood's) open on worker threads: same bytes, same order, same reports as on
 * the main thread, for binary and armored logs, compressed or not.
 */
let admin: TestKey;
beforeAll(async () => {
  admin = await makeKey('pool@example.org');
});

const streamId = 'cd'.repeat(16);
/** Lines of random hex: they barely compress, so every block stays above the offload size. */
const bigBlock = (seq: number) => Buffer.from(Array.from({ length: 700 }, (_, i) => `block=${seq} line=${i} ${randomBytes(100).toString('hex')}\n`).join(''));

async function logOf(blocks: readonly Buffer[], compress: 'zlib' | 'none', armor: boolean): Promise<Buffer[]> {
  const enc = await testEncryptor([admin.publicArmored], compress, armor, 60_000);
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
    expect(poolStats.opened - before).toBeGreaterThanOrEqual(4 * blocks.length - 1);
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
});
