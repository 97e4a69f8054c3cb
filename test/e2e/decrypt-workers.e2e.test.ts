import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/cli.ts';
import { makeKey, testEncryptor, writeKeyFiles, type TestKey } from '../helpers/keys.ts';

/**
 * Large blocks open on worker threads; the process must still end on its own when it is done,
 * whether the workers got work or only started (a log with a single large block opens it on
 * the main thread while they start, and leaves them idle).
 */
const dir = tempDir('pp-workers-');
let key: TestKey;
let keyFiles: { pub: string; sec: string };
beforeAll(async () => {
  key = await makeKey('workers@example.org');
  keyFiles = writeKeyFiles(dir.path, 'admin', key);
});
afterAll(() => dir.dispose());

/** Blocks of random hex lines: they stay far above the 64 KiB a block needs to go to a worker. */
async function logOf(blockCount: number): Promise<{ log: string; text: Buffer }> {
  const enc = await testEncryptor([key.publicArmored], 'zlib', false, 60_000);
  const blocks = Array.from({ length: blockCount }, () => Buffer.from(`${randomBytes(200_000).toString('hex').replace(/(.{100})/g, '$1\n')}\n`));
  const messages = await Promise.all(blocks.map((b, seq) => enc.seal(b, { streamId: 'ab'.repeat(16), seq, kind: 'data' }, new Date())));
  const log = join(dir.path, `${blockCount}.log`);
  writeFileSync(log, Buffer.concat(messages.map((m) => Buffer.from(m))));
  return { log, text: Buffer.concat(blocks) };
}

describe('decrypt with worker threads', () => {
  for (const blocks of [1, 2, 9]) {
    it(`ends on its own after ${blocks} large block(s), every byte back`, async () => {
      const { log, text } = await logOf(blocks);
      const r = await cli(['decrypt', '--quiet', '--key', keyFiles.sec, log]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.equals(text)).toBe(true);
    }, 20_000);
  }
});
