import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Framer } from '../../../runtime/framer.ts';
import { reusedReads } from '../../helpers/reused-reads.ts';

const opts = (over: Partial<{ maxBlockBytes: number; partialLineWaitMs: number; quitString: string | null }> = {}) => ({
  maxBlockBytes: 1024,
  partialLineWaitMs: 100,
  quitString: null,
  ...over,
});

/** Feeds chunks, flushing on idle after each, and returns every block plus the final flush. */
function frame(framer: Framer, chunks: Buffer[], idleEvery = 3): Buffer[] {
  const out: Buffer[] = [];
  let now = 0;
  chunks.forEach((chunk, i) => {
    now += 1;
    out.push(...framer.push(chunk, now).blocks);
    if (i % idleEvery === 0) out.push(...framer.flushIdle(now));
  });
  out.push(...framer.flushAll());
  return out;
}

function randomChunks(total: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < total.length; ) {
    const n = 1 + Math.floor(Math.random() * 3000);
    chunks.push(total.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

describe('Framer', () => {
  it('reproduces any byte stream exactly: binary, NUL, invalid UTF-8, CRLF, long lines', () => {
    for (let round = 0; round < 50; round += 1) {
      const parts = [randomBytes(5000), Buffer.from('\r\n\n\n\0\xff\xfe line\n', 'latin1'), Buffer.alloc(4000, 0x61), randomBytes(100)];
      const input = Buffer.concat(parts.sort(() => Math.random() - 0.5));
      const blocks = frame(new Framer(opts()), randomChunks(input));
      expect(Buffer.concat(blocks).equals(input)).toBe(true);
      for (const b of blocks) expect(b.length).toBeLessThanOrEqual(1024);
    }
  });

  it('never exceeds the block cap: many short lines are cut at the last line end that fits', () => {
    const framer = new Framer(opts({ maxBlockBytes: 10 }));
    const { blocks } = framer.push(Buffer.from('aaa\nbbb\nccc\nddd\n'), 0);
    expect([...blocks, ...framer.flushAll()].map(String)).toEqual(['aaa\nbbb\n', 'ccc\nddd\n']);
  });

  it('ends blocks at line ends while lines are short', () => {
    const framer = new Framer(opts());
    const blocks = frame(framer, [Buffer.from('a\nbb\nccc'), Buffer.from('c\ndd'), Buffer.from('d\n')], 1);
    expect(blocks.map(String)).toEqual(['a\nbb\n', 'cccc\n', 'ddd\n']);
  });

  it('holds a partial line until it has waited partialLineWaitMs, then emits it', () => {
    const framer = new Framer(opts({ partialLineWaitMs: 100 }));
    framer.push(Buffer.from('whole\npart'), 0);
    expect(framer.flushIdle(10).map(String)).toEqual(['whole\n']);
    expect(framer.flushIdle(50)).toEqual([]);
    expect(framer.flushIdle(100).map(String)).toEqual(['part']);
    expect(framer.pendingBytes).toBe(0);
  });

  it('cuts a line longer than the block cap into cap-sized pieces that rejoin', () => {
    const framer = new Framer(opts({ maxBlockBytes: 100 }));
    const line = Buffer.alloc(350, 0x62);
    const { blocks } = framer.push(Buffer.concat([Buffer.from('x\n'), line, Buffer.from('\n')]), 0);
    const all = [...blocks, ...framer.flushAll()];
    expect(all.map((b) => b.length)).toEqual([2, 100, 100, 100, 51]);
    expect(Buffer.concat(all).toString()).toBe(`x\n${line.toString()}\n`);
  });

  it('removes a quit line, keeps lines before and after it, and reports quit', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please' }));
    const r = framer.push(Buffer.from('one\nSTOP-NOW-please\ntwo\n'), 0);
    expect(r.quit).toBe(true);
    expect(framer.flushAll().map(String)).toEqual(['one\ntwo\n']);
  });

  it('finds a quit line split across reads and at the very start', () => {
    const a = new Framer(opts({ quitString: 'STOP-NOW-please' }));
    expect(a.push(Buffer.from('STOP-NO'), 0).quit).toBe(false);
    expect(a.push(Buffer.from('W-please\n'), 1).quit).toBe(true);
    expect(a.flushAll()).toEqual([]);
  });

  it('does not take a line that merely contains the quit string, or a continuation of a cut line', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', maxBlockBytes: 8 }));
    expect(framer.push(Buffer.from('xSTOP-NOW-please\nSTOP-NOW-pleasey\n'), 0).quit).toBe(false);
    // 'abcdefgh' is cut at the cap; what follows continues that line, it is not a line of its own.
    const r = framer.push(Buffer.from('abcdefghSTOP-NOW-please\n'), 1);
    expect(r.quit).toBe(false);
  });

  it('takes a partial line equal to the quit string as quit when it is flushed (printf without newline)', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', partialLineWaitMs: 5 }));
    framer.push(Buffer.from('keep\nSTOP-NOW-please'), 0);
    expect(framer.flushIdle(10).map(String)).toEqual(['keep\n']);
    expect(framer.quitRequested).toBe(true);
  });

  it('takes a whole quit line that follows a flushed partial line (a writer killed mid-line), keeping the partial line', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', partialLineWaitMs: 5 }));
    framer.push(Buffer.from('before\nhalf a li'), 0);
    expect(framer.flushIdle(10).map(String)).toEqual(['before\nhalf a li']);
    // The next writer's quit line arrives in two reads, with a line after it.
    expect(framer.push(Buffer.from('STOP-NOW'), 20).quit).toBe(false);
    expect(framer.push(Buffer.from('-please\nafter\n'), 21).quit).toBe(true);
    expect(framer.flushAll().map(String)).toEqual(['after\n']);
  });

  it('takes a partial quit string after a flushed partial line once it is flushed too', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', partialLineWaitMs: 5 }));
    framer.push(Buffer.from('half'), 0);
    expect(framer.flushIdle(10).map(String)).toEqual(['half']);
    framer.push(Buffer.from('STOP-NOW-please'), 20);
    expect(framer.flushIdle(30)).toEqual([]);
    expect(framer.quitRequested).toBe(true);
  });

  it('after a flushed partial line, other bytes still continue that line untouched', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', partialLineWaitMs: 5 }));
    framer.push(Buffer.from('slow wri'), 0);
    const blocks = framer.flushIdle(10);
    expect(framer.push(Buffer.from('ter\nSTOP-NOW-pleasex\n'), 20).quit).toBe(false);
    expect(Buffer.concat([...blocks, ...framer.flushAll()]).toString()).toBe('slow writer\nSTOP-NOW-pleasex\n');
  });

  it('never takes the rest of a line cut at the cap as a quit line, even when it was flushed on idle', () => {
    const framer = new Framer(opts({ quitString: 'STOP-NOW-please', maxBlockBytes: 8, partialLineWaitMs: 5 }));
    expect(framer.push(Buffer.from('abcdefgh'), 0).blocks.map(String)).toEqual(['abcdefgh']);
    expect(framer.push(Buffer.from('STOP-NOW-please\n'), 1).quit).toBe(false);
    const cut = new Framer(opts({ quitString: 'STOP-NOW-please', maxBlockBytes: 8, partialLineWaitMs: 5 }));
    cut.push(Buffer.from('abcdefgh'), 0);
    cut.push(Buffer.from('STOP-NOW-please'), 1); // cut again: 'STOP-NOW' out, '-please' waits
    expect(cut.flushIdle(1)).toEqual([]);
    expect(cut.quitRequested).toBe(false);
  });

  it('copies what it is pushed: blocks stay intact while the caller reuses its read buffer and more blocks are made', () => {
    // As runtime/fifo.ts does: every read lands in the same buffer, overwritten right after push.
    for (const maxBlockBytes of [64, 1000, 70_000, 1024 * 1024]) {
      const input = Buffer.concat(Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i} ${'x'.repeat(i % 300)}\n`)));
      const framer = new Framer(opts({ maxBlockBytes }));
      const blocks: Buffer[] = [];
      let now = 0;
      for (const read of reusedReads(input)) {
        now += 1;
        blocks.push(...framer.push(read, now).blocks);
        if (Math.random() < 0.3) blocks.push(...framer.flushIdle(now));
      }
      blocks.push(...framer.flushAll());
      expect(Buffer.concat(blocks).equals(input)).toBe(true);
      for (const b of blocks) expect(b.length).toBeLessThanOrEqual(maxBlockBytes);
    }
  });

  it('holds no buffer while idle, and gives up a buffer grown for a backlog once small blocks follow', () => {
    const held = (f: Framer) => (f as unknown as { buf: Buffer }).buf.length;
    const framer = new Framer(opts({ maxBlockBytes: 1024 * 1024 }));
    expect(held(framer)).toBe(0);
    // A backlog (a watched file caught up at start, the pipe after a flood): 2.4 MiB at once.
    const backlog = Buffer.from('x'.repeat(199) + '\n').toString().repeat(12_000);
    const blocks = [...framer.push(Buffer.from(backlog), 1).blocks];
    expect(held(framer)).toBeGreaterThan(1024 * 1024);
    // Then a trickle: small bursts, each flushed.
    const trickle: Buffer[] = [];
    for (let i = 0; i < 5; i += 1) {
      const burst = Buffer.from(`line ${i} of the trickle\n`.repeat(20));
      trickle.push(burst);
      blocks.push(...framer.push(burst, 2 + i).blocks, ...framer.flushIdle(2 + i));
    }
    blocks.push(...framer.flushAll());
    expect(held(framer)).toBeLessThanOrEqual(128 * 1024);
    expect(Buffer.concat(blocks).equals(Buffer.concat([Buffer.from(backlog), ...trickle]))).toBe(true);
  });

  it('removes every quit line wherever the reads split it, and only whole quit lines', () => {
    const quit = 'QUIT-0123';
    for (let round = 0; round < 20; round += 1) {
      const lines: string[] = [];
      for (let i = 0; i < 2000; i += 1) {
        const r = Math.random();
        lines.push(r < 0.02 ? quit : r < 0.04 ? `${quit}x` : r < 0.06 ? `x${quit}` : r < 0.07 ? '' : `line ${i}`);
      }
      const input = Buffer.from(lines.map((l) => `${l}\n`).join(''));
      const expected = lines.filter((l) => l !== quit).map((l) => `${l}\n`).join('');
      const framer = new Framer(opts({ maxBlockBytes: 4096, quitString: quit, partialLineWaitMs: 1e9 }));
      const blocks = frame(framer, randomChunks(input));
      expect(Buffer.concat(blocks).toString()).toBe(expected);
      expect(framer.quitRequested).toBe(lines.includes(quit));
    }
  });
});
