import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openSymmetric, type Natives } from '../../../../runtime/decrypt/open-symmetric.ts';
import { literalPacket, seipdV1Packet } from '../../../../runtime/packets.ts';

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
