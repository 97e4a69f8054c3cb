import { describe, expect, it } from 'vitest';
import type { Appender } from '../../../runtime/appender.ts';
import { Framer } from '../../../runtime/framer.ts';
import { createLogger } from '../../../runtime/log.ts';
import { BlockWriter } from '../../../runtime/writer.ts';
import { decryptCollect } from '../../helpers/decrypt.ts';
import { makeKey, testEncryptor } from '../../helpers/keys.ts';
import { reusedReads } from '../../helpers/reused-reads.ts';

/**
 * The read path hands the framer views of one reused read buffer, and the framer hands the writer
 * views of its own buffers (runtime/fifo.ts, runtime/framer.ts); the writer seals from its parts
 * (runtime/format/packets.ts). Reusing a buffer something still holds would corrupt the log silently, so
 * this runs a flood through all of it with the disk slow: many blocks queued and sealing while
 * the reads go on, every message kept exactly as the writer handed it over, then decrypted.
 */
describe('a flood through reused read buffers, with a slow disk', () => {
  it('every line decrypts back, in order, byte for byte', async () => {
    const key = await makeKey('flood@example.org');
    const written: Uint8Array[] = [];
    const appender: Appender = {
      path: '/memory',
      async append(messages) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15));
        written.push(...messages); // the writer's own buffers, not copies: a later reuse would show
      },
      reopen: async () => {},
      moveAside: async () => {},
      size: async () => 0,
      close: async () => {},
    };
    const writer = new BlockWriter({
      encryptor: await testEncryptor([key.publicArmored], 'zlib', true, 60_000),
      appender,
      streamId: 'ef'.repeat(16),
      limits: { maxBlockBytes: 64 * 1024, maxBatchBytes: 256 * 1024, retryMinMs: 1, retryMaxMs: 2 },
      log: createLogger('error', () => {}),
    });
    const input = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `${i} GET /p/${(i * 7919) % 100_003} ${'x'.repeat(i % 150)}\n`).join(''));
    const framer = new Framer({ maxBlockBytes: 64 * 1024, partialLineWaitMs: 200, quitString: 'QUIT-STRING-0123' });
    let now = 0;
    let mostQueued = 0;
    for (const read of reusedReads(input)) {
      now += 1;
      for (const block of framer.push(read, now).blocks) writer.enqueueData(block);
      if (Math.random() < 0.2) for (const block of framer.flushIdle(now)) writer.enqueueData(block);
      mostQueued = Math.max(mostQueued, writer.queuedBytes);
      // Now and then let sealing and appending run while more is read.
      if (Math.random() < 0.1) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const block of framer.flushAll()) writer.enqueueData(block);
    await writer.idle();
    expect(mostQueued).toBeGreaterThan(1024 * 1024); // many blocks were in flight at once
    const { data, problems } = await decryptCollect([key.privateKey], Buffer.concat(written));
    expect(problems).toEqual([]);
    expect(Buffer.concat(data).equals(input)).toBe(true);
  }, 60_000);
});
