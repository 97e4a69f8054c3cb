import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeArmored, openSymmetric, type Natives } from '../../../../runtime/decrypt/open-symmetric.ts';
import { literalPacket, seipdV1Packet } from '../../../../runtime/format/packets.ts';

/**
 * AES-CFB is deciphered as ECB + CBC (two passes OpenSSL runs several blocks at a time) plus the
 * short last block by hand: every length of body modulo 16 must give the plaintext back, and a
 * change in any byte, the short block's included, must fail the MDC.
 */
const m: Natives = { createCipheriv: crypto.createCipheriv, createDecipheriv: crypto.createDecipheriv, createHash: crypto.createHash, timingSafeEqual: crypto.timingSafeEqual, inflateSync: zlib.inflateSync, inflateRawSync: zlib.inflateRawSync };
const key = crypto.randomBytes(32);
const date = new Date('2026-12-02T05:00:00Z');

/** A SEIPD packet around a literal packet of `data`; returns the packet and where its body's ciphertext starts. */
function sealed(data: Buffer): { packet: Buffer; start: number } {
  const packet = seipdV1Packet(key, literalPacket(data, 'name', date));
  const first = packet[1] as number;
  const header = first < 192 ? 2 : first < 224 ? 3 : 6;
  return { packet, start: header + 1 }; // after the version octet
}

describe('openSymmetric', () => {
  it('gives back the data for every length of ciphertext modulo 16, and for blocks of 64 KiB and more', () => {
    const sizes = [...Array.from({ length: 40 }, (_, i) => i), 65_536 + 7, 300_001];
    const residues = new Set<number>();
    for (const size of sizes) {
      const data = crypto.randomBytes(size);
      const { packet, start } = sealed(data);
      residues.add((packet.length - start) % 16);
      const opened = openSymmetric(m, packet, start, packet.length, key);
      expect(opened, `size ${size}`).not.toBeNull();
      expect(Buffer.from(opened!.data).equals(data), `size ${size}`).toBe(true);
      expect(opened!.filename).toBe('name');
      expect(opened!.seconds).toBe(date.getTime() / 1000);
    }
    expect(residues.size).toBe(16);
  });

  it('rejects a change anywhere: first block, middle, the short last block', () => {
    for (const size of [20, 21, 1000, 1003]) {
      const { packet, start } = sealed(crypto.randomBytes(size));
      const body = packet.length - start;
      for (const at of [0, 5, Math.floor(body / 2), body - 17, body - 3, body - 1]) {
        const bad = Buffer.from(packet);
        bad[start + at]! ^= 0x01;
        expect(() => openSymmetric(m, bad, start, bad.length, key), `size ${size}, byte ${at}`).toThrow(/Modification detected/);
      }
    }
  });

  it('rejects a body too short to hold the prefix and the MDC', () => {
    const { packet, start } = sealed(Buffer.alloc(0));
    expect(() => openSymmetric(m, packet, start, start + 39, key)).toThrow(/Modification detected/);
  });
});

describe('decodeArmored', () => {
  /** `data` as base64 lines of `width` characters, each ended by `eol`. */
  const lines = (data: Buffer, width: number, eol = '\n'): Buffer => {
    const b64 = data.toString('base64');
    const out: string[] = [];
    for (let at = 0; at < b64.length; at += width) out.push(b64.slice(at, at + width) + eol);
    return Buffer.from(out.join(''), 'latin1');
  };
  const data = crypto.randomBytes(700_001); // decodes in several pieces, ends with padding
  const head = data.subarray(0, 40);

  it('decodes a long body in pieces to exactly the bytes, for lines of 64 and 76 characters, LF and CRLF', () => {
    for (const [width, eol] of [[64, '\n'], [76, '\n'], [64, '\r\n']] as const) {
      const body = lines(data, width, eol);
      expect(body.length).toBeGreaterThan(3 * 128 * 1024);
      const got = decodeArmored(body, head, data.length);
      expect(got?.equals(data), `${width} ${JSON.stringify(eol)}`).toBe(true);
    }
  });

  it('decodes block after block into one scratch buffer, a larger block into a larger one, to exactly the bytes', () => {
    const scratch: { buffer: Buffer | null } = { buffer: null };
    const smaller = data.subarray(0, 500_000);
    const first = decodeArmored(lines(data, 64), head, data.length, scratch);
    expect(first?.equals(data)).toBe(true);
    const kept = scratch.buffer;
    expect(kept).not.toBeNull();
    const second = decodeArmored(lines(smaller, 76), head, smaller.length, scratch);
    expect(second?.equals(smaller)).toBe(true);
    expect(second?.buffer).toBe(kept!.buffer); // the same memory: the first block's bytes are gone
    const larger = Buffer.concat([data, data]);
    expect(decodeArmored(lines(larger, 64), head, larger.length, scratch)?.equals(larger)).toBe(true);
    expect(scratch.buffer).not.toBe(kept);
  });

  it('decodes whole when a line does not hold a multiple of 4 characters', () => {
    expect(decodeArmored(lines(data, 66), head, data.length)?.equals(data)).toBe(true);
  });

  it('never decodes lines of uneven length to other bytes: right, or refused where a piece ends mid-line', () => {
    const body = lines(data, 64).toString('latin1').split('\n');
    /** The body with `k` characters of line `i + 1` moved to the end of line `i`. */
    const moved = (i: number, k: number) => {
      const copy = [...body];
      const next = copy[i + 1] ?? '';
      copy[i] = `${copy[i] ?? ''}${next.slice(0, k)}`;
      copy[i + 1] = next.slice(k);
      return Buffer.from(copy.join('\n'), 'latin1');
    };
    // Pieces are 1,512 lines of 65 bytes: line 1511 is the last of the first piece.
    expect(decodeArmored(moved(10, 2), head, data.length)?.equals(data)).toBe(true); // inside a piece
    expect(decodeArmored(moved(1511, 2), head, data.length)).toBeNull(); // across a piece's end
    for (const i of [0, 700, 1510, 1511, 1512, 3023, 3024, 5000]) {
      for (const k of [1, 2, 3, 4, 5]) {
        const got = decodeArmored(moved(i, k), head, data.length);
        if (got !== null) expect(got.equals(data), `line ${i}, ${k}`).toBe(true);
      }
    }
  });

  it('refuses a body that decodes to another head or length', () => {
    const body = lines(data, 64);
    expect(decodeArmored(body, data.subarray(1, 41), data.length)).toBeNull();
    expect(decodeArmored(body, head, data.length + 1)).toBeNull();
  });
});
