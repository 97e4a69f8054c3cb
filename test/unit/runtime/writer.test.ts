import { describe, expect, it } from 'vitest';
import type { Appender } from '../../../runtime/appender.ts';
import type { Encryptor } from '../../../runtime/encryptor.ts';
import { createLogger } from '../../../runtime/log.ts';
import { KeyLadder, newSealKey, SealChain, sealSeconds } from '../../../runtime/seal/chain.ts';
import { BlockWriter } from '../../../runtime/writer.ts';

const limits = { maxBlockBytes: 64, maxBatchBytes: 128, retryMinMs: 1, retryMaxMs: 2 };

/** "seq:bytes" per message, so a test reads back exactly what was sealed with which number. */
const encryptor: Encryptor = {
  async seal(block, meta) {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3)); // seals finish out of order
    return Buffer.from(`${meta.seq}:${Buffer.from(block).toString()}|`);
  },
  endKeyWindow() {},
};

function memoryAppender(failures: number): Appender & { text: () => string; calls: number } {
  const written: string[] = [];
  let left = failures;
  return {
    path: '/memory',
    calls: 0,
    text: () => written.join(''),
    async append(messages) {
      this.calls += 1;
      if (left > 0) {
        left -= 1;
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      }
      for (const m of messages) written.push(Buffer.from(m).toString());
    },
    reopen: async () => {},
    moveAside: async () => {},
    size: async () => 0,
    close: async () => {},
  };
}

function writerFor(appender: Appender, logs: string[] = [], sealer: Encryptor = encryptor): BlockWriter {
  const log = createLogger('debug', (line) => logs.push(line));
  return new BlockWriter({ encryptor: sealer, appender, streamId: 'ab'.repeat(16), limits, log });
}

describe('block writer', () => {
  it('seals ahead while appending, and still writes every block once, numbered in queue order', async () => {
    const appender = memoryAppender(0);
    const writer = writerFor(appender);
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
    for (const line of lines) writer.enqueueData(Buffer.from(line));
    await writer.idle();
    const messages = appender.text().split('|').filter(Boolean);
    expect(messages.map((m) => Number(m.split(':')[0]))).toEqual(messages.map((_, i) => i));
    expect(messages.map((m) => m.slice(m.indexOf(':') + 1)).join('')).toBe(lines.join(''));
    expect(writer.stats).toEqual({ lines: 200, bytes: lines.join('').length, lastSeq: messages.length - 1, lastTag: null });
    expect(writer.queuedBytes).toBe(0);
    expect(appender.calls).toBeGreaterThan(1); // more than one batch, so the overlap was exercised
  });

  it('retries a failing append with the same numbers and logs the errno, not the data', async () => {
    const appender = memoryAppender(3);
    const logs: string[] = [];
    const writer = writerFor(appender, logs);
    writer.enqueueData(Buffer.from('secret-a\n'));
    writer.enqueueData(Buffer.from('secret-b\n'));
    await writer.idle();
    expect(appender.text()).toBe('0:secret-a\n|1:secret-b\n|');
    expect(logs.filter((l) => l.includes('APPEND_FAILED:'))).toHaveLength(3);
    expect(logs.join('')).toContain('ENOSPC');
    expect(logs.join('')).not.toContain('secret');
  });

  it('an encryption error is retried with the same numbers; the log names the reason, never the data', async () => {
    const appender = memoryAppender(0);
    const logs: string[] = [];
    let failures = 2;
    const flaky: Encryptor = {
      seal(block, meta, date) {
        if (failures > 0) {
          failures -= 1;
          return Promise.reject(new Error('Could not find valid encryption key packet'));
        }
        return encryptor.seal(block, meta, date);
      },
      endKeyWindow() {},
    };
    const writer = writerFor(appender, logs, flaky);
    writer.enqueueData(Buffer.from('secret-c\n'));
    await writer.idle();
    expect(appender.text()).toBe('0:secret-c\n|');
    expect(logs.filter((l) => l.includes('SEAL_FAILED:'))).toHaveLength(2);
    expect(logs.join('')).toContain('Could not find valid encryption key packet');
    expect(logs.join('')).not.toContain('secret');
  });

  it('after a bounded give-up, counts every line that is not on disk', async () => {
    const appender = memoryAppender(Number.POSITIVE_INFINITY);
    const writer = writerFor(appender);
    writer.boundRetries(2);
    for (let i = 0; i < 50; i += 1) writer.enqueueData(Buffer.from(`line ${i}\n`));
    await expect(writer.idle()).rejects.toThrow('disk full');
    expect(writer.unwritten().lines).toBe(50);
    expect(writer.stats.lastSeq).toBe(-1);
  });

  it('with a seal chain: every block gets the tag of its position, kept through failed seals and appends', async () => {
    const appender = memoryAppender(2);
    let failures = 3;
    let calls = 0;
    const metas: Array<{ seq: number; tag?: string; block: Buffer; time: number }> = [];
    const recording: Encryptor = {
      endKeyWindow() {},
      seal(block, meta, date) {
        if (failures > 0 && (calls += 1) % 3 === 2) {
          failures -= 1;
          return Promise.reject(new Error('flaky'));
        }
        metas.push({ seq: meta.seq, tag: meta.tag, block: Buffer.from(block), time: sealSeconds(date) });
        return encryptor.seal(block, meta, date);
      },
    };
    const streamId = 'ab'.repeat(16);
    const k0 = newSealKey();
    const ladder = new KeyLadder(Buffer.from(k0));
    const writer = new BlockWriter({ encryptor: recording, appender, streamId, chain: new SealChain(streamId, k0), limits, log: createLogger('error', () => {}) });
    for (let i = 0; i < 60; i += 1) writer.enqueueData(Buffer.from(`line ${i}\n`));
    writer.enqueueControl((seq) => ({ type: 'event', streamId, at: 't', event: 'e', detail: String(seq) }));
    await writer.idle();
    const written = appender.text().split('|').filter(Boolean).map((m) => Number(m.split(':')[0]));
    expect(written).toEqual(written.map((_, i) => i));
    for (const m of metas) {
      const kind = m.block[0] === 0x7b ? 'c' : 'd';
      expect(ladder.verify({ streamId, seq: m.seq, kind, time: m.time, plaintext: m.block }, m.tag as string)).toBe(true);
    }
    expect(writer.stats.lastTag).toBe(metas.filter((m) => m.seq === writer.stats.lastSeq).at(-1)?.tag);
  });

  it('never merges blocks of two sources, and seals each with its own source id', async () => {
    const metas: Array<{ source: string | undefined; text: string }> = [];
    const recording: Encryptor = {
      async seal(block, meta) {
        metas.push({ source: meta.source, text: Buffer.from(block).toString() });
        return Buffer.from('x');
      },
      endKeyWindow() {},
    };
    const k0 = newSealKey();
    const writer = new BlockWriter({ encryptor: recording, appender: memoryAppender(0), streamId: 'ab'.repeat(16), chain: new SealChain('ab'.repeat(16), k0), limits, log: createLogger('error', () => {}) });
    writer.enqueueData(Buffer.from('p1\n'));
    writer.enqueueData(Buffer.from('a1\n'), true, { source: 'f1' });
    writer.enqueueData(Buffer.from('a2\n'), true, { source: 'f1' });
    writer.enqueueData(Buffer.from('b1\n'), true, { source: 'f2' });
    writer.enqueueData(Buffer.from('p2\n'));
    writer.enqueueControl(() => ({ type: 'event', streamId: 'ab'.repeat(16), at: '', event: 'e', detail: '' }), 'f2');
    await writer.idle();
    const blocks = metas.map((m) => `${m.source ?? 'pipe'}=${m.text}`);
    expect(blocks.slice(0, 4)).toEqual(['pipe=p1\n', 'f1=a1\na2\n', 'f2=b1\n', 'pipe=p2\n']);
    expect(metas[4]?.source).toBe('f2');
  });

  it('asks the appender to sync on the loop outside a flood, and on the thread pool while reading says a flood is on', async () => {
    const asked: Array<boolean | undefined> = [];
    const appender = { ...memoryAppender(0), append: async (_messages: readonly Uint8Array[], options?: { syncOnLoop?: boolean }) => void asked.push(options?.syncOnLoop) };
    const writer = writerFor(appender);
    writer.enqueueData(Buffer.from('trickle\n'));
    await writer.idle();
    writer.readingFlood(true);
    writer.enqueueData(Buffer.from('flood\n'));
    await writer.idle();
    writer.readingFlood(false);
    writer.enqueueData(Buffer.from('trickle again\n'));
    await writer.idle();
    expect(asked).toEqual([true, false, true]);
  });

  it('retries a failed append with fdatasync on the thread pool, so reading goes on while the disk fails; the next batch is back on the loop', async () => {
    const asked: Array<boolean | undefined> = [];
    const failing = memoryAppender(2);
    const appender = { ...failing, append: (messages: readonly Uint8Array[], options?: { syncOnLoop?: boolean }) => (asked.push(options?.syncOnLoop), failing.append.call(failing, messages)) };
    const writer = writerFor(appender);
    writer.enqueueData(Buffer.from('one\n'));
    await writer.idle();
    writer.enqueueData(Buffer.from('two\n'));
    await writer.idle();
    expect(asked).toEqual([true, false, false, true]);
    expect(failing.text()).toBe('0:one\n|1:two\n|');
  });
});
