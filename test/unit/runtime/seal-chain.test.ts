import { describe, expect, it } from 'vitest';
import { evolveKey, KeyLadder, newSealKey, SealChain, sealTag } from '../../../runtime/seal/chain.ts';

const streamId = '0123456789abcdef0123456789abcdef';
const block = (seq: number, text = `line ${seq}\n`) => ({ seq, kind: 'd' as const, time: 1_700_000_000 + seq, plaintext: Buffer.from(text) });

describe('seal chain', () => {
  it('tags that the verifier re-derives from k_0, position by position, in any order', () => {
    const k0 = newSealKey();
    const ladder = new KeyLadder(Buffer.from(k0));
    const chain = new SealChain(streamId, k0);
    const tags = Array.from({ length: 20 }, (_, seq) => chain.tag(block(seq)));
    for (const seq of [0, 5, 19, 3, 3, 18]) expect(ladder.verify({ streamId, ...block(seq) }, tags[seq] as string)).toBe(true);
  });

  it('erases each key once the next is derived: the buffer handed in is zero after the first seal', () => {
    const k0 = newSealKey();
    const chain = new SealChain(streamId, k0);
    chain.tag(block(0));
    expect(k0.equals(Buffer.alloc(32))).toBe(true);
  });

  it('refuses to seal out of step', () => {
    const chain = new SealChain(streamId, newSealKey());
    chain.tag(block(0));
    expect(() => chain.tag(block(2))).toThrow(/out of step/);
  });

  it('binds every input: position, stream, kind, time and each byte of the text', () => {
    const k0 = newSealKey();
    const ladder = new KeyLadder(Buffer.from(k0));
    const tag = new SealChain(streamId, k0).tag(block(0));
    const good = { streamId, ...block(0) };
    expect(ladder.verify(good, tag)).toBe(true);
    for (const bad of [
      { ...good, seq: 1 },
      { ...good, streamId: 'f'.repeat(32) },
      { ...good, kind: 'c' as const },
      { ...good, time: good.time + 1 },
      { ...good, plaintext: Buffer.from('line 1\n') },
    ]) {
      expect(ladder.verify(bad, tag)).toBe(false);
    }
  });

  it('a key taken at position t makes no valid tag for any earlier position', () => {
    const k0 = newSealKey();
    const ladder = new KeyLadder(Buffer.from(k0));
    let kt: Buffer = Buffer.from(k0);
    for (let n = 0; n < 10; n += 1) kt = evolveKey(kt);
    for (let seq = 0; seq < 10; seq += 1) {
      let key: Buffer = kt;
      for (let later = 0; later < 5; later += 1, key = evolveKey(key)) {
        expect(ladder.verify({ streamId, ...block(seq, 'forged\n') }, sealTag(key, { streamId, ...block(seq, 'forged\n') }).toString('hex'))).toBe(false);
      }
    }
    // ...while from t on it can: the bound the threat model states.
    expect(ladder.verify({ streamId, ...block(10, 'forged\n') }, sealTag(kt, { streamId, ...block(10, 'forged\n') }).toString('hex'))).toBe(true);
  });

  it('does not walk a forged sequence number far ahead', () => {
    const ladder = new KeyLadder(newSealKey());
    expect(ladder.verify({ streamId, ...block(9_000_000_000_000) }, '0'.repeat(32))).toBe(false);
  });

  it('binds the source id: a block cannot be re-labelled as another source, or as the pipe', () => {
    const k0 = newSealKey();
    const ladder = new KeyLadder(Buffer.from(k0));
    const chain = new SealChain(streamId, k0);
    const tag = chain.tag({ ...block(0), source: 'f1' });
    const good = { streamId, ...block(0), source: 'f1' };
    expect(ladder.verify(good, tag)).toBe(true);
    expect(ladder.verify({ ...good, source: 'f2' }, tag)).toBe(false);
    expect(ladder.verify({ streamId, ...block(0) }, tag)).toBe(false);
    // A pipe block (no source) seals as before sources existed.
    const pipeTag = chain.tag(block(1));
    expect(ladder.verify({ streamId, ...block(1) }, pipeTag)).toBe(true);
    expect(ladder.verify({ streamId, ...block(1), source: 'f1' }, pipeTag)).toBe(false);
  });
  it('gives the same tags as ever (known answers: the copy and the verifier must agree across versions)', () => {
    const id = 'ab'.repeat(16);
    const chain = new SealChain(id, Buffer.alloc(32, 7));
    const tags = [0, 1, 2].map((seq) =>
      chain.tag({ seq, kind: seq === 1 ? 'c' : 'd', time: 1764649500 + seq, plaintext: Buffer.from(`line ${seq}\n`), ...(seq === 2 ? { source: 'file:/var/log/x' } : {}) }),
    );
    expect(tags).toEqual(['c3bfc31947ecb56b3c9a06540ee6c11a', '509c606b5570c269834fb7a16a767ded', '85078c7be65be7c963d49733ab83ea4e']);
    // A position past 2^32: both halves of the 64-bit sequence field.
    expect(sealTag(Buffer.alloc(32, 9), { streamId: id, seq: 2 ** 32 + 5, kind: 'h', time: 5, plaintext: Buffer.from('x') }).toString('hex')).toBe('133f1a9324fb9f322ab3b7218bc281fe');
  });
});
