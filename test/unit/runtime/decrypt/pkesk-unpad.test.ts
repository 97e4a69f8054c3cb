import { describe, expect, it } from 'vitest';
import { rsaSessionKey } from '../../../../runtime/decrypt/pkesk.ts';

/** algorithm 9 (AES-256), a 32-byte key, its checksum. */
const KEY = Buffer.alloc(32, 0xab);
const PAYLOAD = Buffer.concat([Buffer.from([9]), KEY, Buffer.from([(32 * 0xab) >> 8, (32 * 0xab) & 0xff])]);
/** A PKCS#1 v1.5 type 2 frame of `bytes` (a modulus's length) around the payload, `ps` nonzero padding bytes. */
const frame = (bytes: number, ps = bytes - 3 - PAYLOAD.length) => Buffer.concat([Buffer.alloc(bytes - 2 - ps - 1 - PAYLOAD.length), Buffer.from([0, 2]), Buffer.alloc(ps, 0x5a), Buffer.from([0]), PAYLOAD]);

describe('rsaSessionKey (PKCS#1 v1.5 decoding, RFC 8017 7.2.2)', () => {
  it('reads a whole frame (native: the modulus length) and one whose leading zero was dropped (gpg-agent)', () => {
    expect(Buffer.from(rsaSessionKey(frame(256), true)!.data).equals(KEY)).toBe(true);
    expect(Buffer.from(rsaSessionKey(frame(256).subarray(1), true)!.data).equals(KEY)).toBe(true);
  });

  it('refuses what no encoder writes, as openpgp.js does: fewer than 8 padding bytes, more than one leading zero', () => {
    // 7 padding bytes, the frame still the modulus's length (the extra zero goes in front).
    const short = Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(7, 0x5a), Buffer.from([0]), PAYLOAD]);
    expect(rsaSessionKey(short, true)).toBeNull();
    expect(rsaSessionKey(Buffer.concat([Buffer.from([0]), short]), true)).toBeNull();
    const noPadding = Buffer.concat([Buffer.from([0, 2, 0]), PAYLOAD]);
    expect(rsaSessionKey(noPadding, true)).toBeNull();
    // A value far below the modulus: zeros in front of the 0x02, which a conforming frame never has.
    expect(rsaSessionKey(frame(256, 8), true)).toBeNull();
    expect(rsaSessionKey(Buffer.concat([Buffer.from([0, 0, 2]), Buffer.alloc(250, 0x5a), Buffer.from([0]), PAYLOAD]), true)).toBeNull();
    expect(rsaSessionKey(Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(250, 0x5a), Buffer.from([0]), PAYLOAD]), true)).toBeNull();
    expect(rsaSessionKey(Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(250, 0x5a)]), true)).toBeNull();
  });
});
