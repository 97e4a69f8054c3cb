import { describe, expect, it } from 'vitest';
import { decodeControl, encodeControl, formatMetadata, parseMetadata } from '../../../runtime/metadata.ts';

describe('block metadata', () => {
  const streamId = '0123456789abcdef0123456789abcdef';

  it('round-trips every kind and stays far below the 255-byte filename limit', () => {
    for (const kind of ['data', 'header', 'control'] as const) {
      const text = formatMetadata({ streamId, seq: 9007199254740, kind });
      expect(text.length).toBeLessThan(100);
      expect(parseMetadata(text)).toEqual({ streamId, seq: 9007199254740, kind });
    }
  });

  it('writes pp2 with the seal tag, pp1 without one, and reads both', () => {
    const tag = 'ab'.repeat(16);
    const sealed = formatMetadata({ streamId, seq: 9007199254740, kind: 'control', tag });
    expect(sealed).toBe(`pp2.${streamId}.9007199254740.c.${tag}`);
    expect(Buffer.byteLength(sealed)).toBeLessThan(100);
    expect(parseMetadata(sealed)).toEqual({ streamId, seq: 9007199254740, kind: 'control', tag });
    expect(formatMetadata({ streamId, seq: 3, kind: 'data' })).toBe(`pp1.${streamId}.3.d`);
  });

  it('treats foreign or malformed filenames as not ours', () => {
    expect(parseMetadata(null)).toBeNull();
    for (const bad of ['', 'msg.txt', `pp1.${streamId}.1`, `pp1.${streamId}.01.d`, `pp1.${streamId}.-1.d`, `pp1.XYZ.1.d`, `pp3.${streamId}.1.d`, `pp1.${streamId}.1.x`]) {
      expect(parseMetadata(bad)).toBeNull();
    }
  });

  it('keeps a pp2 name with a bad tag as ours, so its broken seal is reported', () => {
    expect(parseMetadata(`pp2.${streamId}.1.d`)).toEqual({ streamId, seq: 1, kind: 'data', tag: 'malformed' });
    expect(parseMetadata(`pp2.${streamId}.1.d.XYZ`)).toEqual({ streamId, seq: 1, kind: 'data', tag: 'malformed' });
  });

  it('ignores extra parts so a later MAC can be appended', () => {
    expect(parseMetadata(`pp1.${streamId}.5.d.mac-goes-here`)).toEqual({ streamId, seq: 5, kind: 'data' });
  });

  it('encodes control records as one JSON line and rejects garbage', () => {
    const rec = { type: 'event', streamId, at: 't', event: 'e', detail: 'd' } as const;
    expect(decodeControl(encodeControl(rec))).toEqual(rec);
    expect(decodeControl(Buffer.from('not json'))).toBeNull();
    expect(decodeControl(Buffer.from('42'))).toBeNull();
  });

  it('carries a source id after the tag, which a reader without it ignores', () => {
    const tag = 'cd'.repeat(16);
    const text = formatMetadata({ streamId, seq: 7, kind: 'data', tag, source: 'f12' });
    expect(text).toBe(`pp2.${streamId}.7.d.${tag}.f12`);
    expect(parseMetadata(text)).toEqual({ streamId, seq: 7, kind: 'data', tag, source: 'f12' });
    // What a decrypter from before sources reads: the first five parts.
    const [, id, seq, kind, oldTag] = text.split('.');
    expect([id, seq, kind, oldTag]).toEqual([streamId, '7', 'd', tag]);
    expect(parseMetadata(`pp2.${streamId}.7.d.${tag}.F/../x`)).toMatchObject({ source: 'malformed' });
    // Unsealed blocks never carry one: the source must be under a seal.
    expect(formatMetadata({ streamId, seq: 7, kind: 'data', source: 'f1' })).toBe(`pp1.${streamId}.7.d`);
  });
});
