import { beforeAll, describe, expect, it } from 'vitest';
import { LogDecrypter, type BlockInfo, type Problem } from '../../../../runtime/decrypt/reader.ts';
import { decryptionKeyOf, makeKey, type TestKey, testEncryptor } from '../../../helpers/keys.ts';

/**
 * Live inputs (a followed log, a pipe): each whole block is delivered while the reader still
 * waits for more input, and a block still being written is waited for, not reported torn.
 */
let key: TestKey;
const SEALED = new Date('2026-11-24T02:13:07.600Z');
const blocks: Record<'armored' | 'binary', Buffer[]> = { armored: [], binary: [] };

beforeAll(async () => {
  key = await makeKey('live@example.org');
  for (const armor of [true, false]) {
    const enc = await testEncryptor([key.publicArmored], 'zlib', armor);
    for (let i = 0; i < 3; i += 1) {
      const sealed = await enc.seal(Buffer.from(`line ${i}\n`), { streamId: 'ab'.repeat(16), seq: i, kind: 'data' }, SEALED);
      blocks[armor ? 'armored' : 'binary'].push(Buffer.from(sealed));
    }
  }
});

/** A live source fed by the test: `read` waits until the test pushes the next chunk or ends it. */
function liveSource() {
  const queue: Array<Buffer | null> = [];
  let wake: (() => void) | null = null;
  return {
    push(chunk: Buffer | null) {
      queue.push(chunk);
      wake?.();
    },
    read: async (): Promise<Buffer | null> => {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      return queue.shift() as Buffer | null;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 50));

describe.each(['armored', 'binary'] as const)('live decrypt (%s)', (shape) => {
  it('delivers each whole block at once, waits for one cut between chunks, and dates each block', async () => {
    const got: string[] = [];
    const infos: BlockInfo[] = [];
    const problems: Problem[] = [];
    const decrypter = new LogDecrypter([decryptionKeyOf(key.privateKey)], {
      data: (b, _meta, info) => {
        got.push(Buffer.from(b).toString());
        infos.push(info);
      },
      control: () => {},
      problem: (p) => void problems.push(p),
    });
    const src = liveSource();
    const done = decrypter.decryptChunks(src.read, 'live', { live: true });
    const [b0, b1, b2] = blocks[shape] as [Buffer, Buffer, Buffer];
    src.push(b0);
    await tick();
    expect(got).toEqual(['line 0\n']); // delivered while the reader waits for more
    src.push(Buffer.concat([b1, b2.subarray(0, 40)]));
    await tick();
    expect(got).toEqual(['line 0\n', 'line 1\n']);
    await tick();
    src.push(b2.subarray(40));
    await tick();
    expect(got).toEqual(['line 0\n', 'line 1\n', 'line 2\n']);
    src.push(null);
    await done;
    expect(problems).toEqual([]);
    expect(infos.map((i) => i.date?.toISOString())).toEqual(Array(3).fill('2026-11-24T02:13:07.000Z'));
    expect(infos.map((i) => i.offset)).toEqual([0, b0.length, b0.length + b1.length]);
  });

  it('without live, still reads the same blocks (the batch path is unchanged)', async () => {
    const got: string[] = [];
    const decrypter = new LogDecrypter([decryptionKeyOf(key.privateKey)], { data: (b) => void got.push(Buffer.from(b).toString()), control: () => {}, problem: () => {} });
    await decrypter.decryptBuffer(Buffer.concat(blocks[shape]), 'file');
    expect(got).toEqual(['line 0\n', 'line 1\n', 'line 2\n']);
  });
});
