import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc24, packetHeader } from '../../../runtime/packets.ts';
import { TempGpg } from '../../helpers/gpg.ts';
import { makeKey, type TestKey, testEncryptor } from '../../helpers/keys.ts';

const meta = { streamId: 'cd'.repeat(16), seq: 7, kind: 'data' } as const;

describe('packet encoding', () => {
  it('computes the RFC 4880 CRC-24 check value', () => {
    expect(crc24(Buffer.from('123456789'))).toBe(0x21cf02);
    expect(crc24(Buffer.alloc(0))).toBe(0xb704ce);
  });

  it('writes each new-format length form at its boundaries', () => {
    expect([...packetHeader(11, 191)]).toEqual([0xcb, 191]);
    expect([...packetHeader(11, 192)]).toEqual([0xcb, 192, 0]);
    expect([...packetHeader(11, 8383)]).toEqual([0xcb, 223, 255]);
    expect([...packetHeader(11, 8384)]).toEqual([0xcb, 255, 0, 0, 0x20, 0xc0]);
  });
});

describe('block encryption: GnuPG and openpgp.js both read every shape we write', () => {
  let gpg: TempGpg;
  let alice: TestKey;
  let bob: TestKey;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([makeKey('alice@example.org'), makeKey('bob@example.org', { type: 'rsa', rsaBits: 2048 } as never)]);
    gpg = new TempGpg();
    gpg.importKey(alice.privateArmored);
  });
  afterAll(() => gpg?.dispose());

  // Sizes straddle every packet length form, for the literal and for the outer packets.
  const sizes = [0, 1, 150, 180, 8300, 8400, 70_000, 1024 * 1024];
  for (const compress of ['zlib', 'none'] as const) {
    for (const armor of [true, false]) {
      it(`compress ${compress}, ${armor ? 'armored' : 'binary'}: gpg decrypts to the same bytes and sees the metadata`, async () => {
        const enc = await testEncryptor([alice.publicArmored, bob.publicArmored], compress, armor);
        for (const size of sizes) {
          const block = randomBytes(size);
          const message = Buffer.from(await enc.seal(block, meta, new Date()));
          expect(gpg.decrypt(message).equals(block)).toBe(true);
          // openpgp.js with the other recipient's key: both PKESK packets are there.
          const read = armor ? await openpgp.readMessage({ armoredMessage: message.toString('latin1') }) : await openpgp.readMessage({ binaryMessage: message });
          const { data, filename } = await openpgp.decrypt({ message: read, decryptionKeys: bob.privateKey, format: 'binary' });
          expect(Buffer.from(data as Uint8Array).equals(block)).toBe(true);
          expect(filename).toBe(`pp1.${meta.streamId}.7.d`);
        }
      });
    }
  }

  it('pins SEIPD v1 with MDC, v3 PKESK and AES-256 (what GnuPG 2.2 reads)', async () => {
    const enc = await testEncryptor([alice.publicArmored], 'zlib', false);
    const message = Buffer.from(await enc.seal(Buffer.from('one line\n'), meta, new Date()));
    const listing = gpg.run(['--list-packets', '--show-session-key'], message).toString() + '';
    expect(listing).toMatch(/:pubkey enc packet: version 3/);
    expect(listing).toMatch(/:encrypted data packet:\s*\n\s*length: \d+\s*\n\s*mdc_method: 2/);
    expect(listing).toMatch(/:compressed packet: algo=2/);
    expect(listing).toMatch(/:literal data packet:\s*\n\s*mode b \(62\), created \d+, name="pp1\./);
  });

  it('a flipped ciphertext byte is caught by the MDC', async () => {
    const enc = await testEncryptor([alice.publicArmored], 'none', false);
    const message = Buffer.from(await enc.seal(Buffer.from('secret line\n'), meta, new Date()));
    message[message.length - 5] = (message[message.length - 5] as number) ^ 0x01;
    expect(() => gpg.decrypt(message)).toThrow();
  });
});
