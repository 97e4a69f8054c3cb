import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Appender, AppendOptions } from '../../../runtime/appender.ts';
import { readPacket } from '../../../runtime/format/split.ts';
import { endingKeyWindows } from '../../../runtime/encryptor.ts';
import { armorMessage, armorParts, crc24, packetHeader } from '../../../runtime/format/packets.ts';
import { decryptCollect } from '../../helpers/decrypt.ts';
import { TempGpg } from '../../helpers/gpg.ts';
import { makeKey, type TestKey, testEncryptor } from '../../helpers/keys.ts';

const meta = { streamId: 'cd'.repeat(16), seq: 7, kind: 'data' } as const;

describe('packet encoding', () => {
  it('computes the RFC 4880 CRC-24 check value', () => {
    expect(crc24(Buffer.from('123456789'))).toBe(0x21cf02);
    expect(crc24(Buffer.alloc(0))).toBe(0xb704ce);
  });

  it('computes CRC-24 four bytes at a time as the plain bitwise definition does', () => {
    const plain = (bytes: Uint8Array) => {
      let crc = 0xb704ce;
      for (const byte of bytes) {
        crc ^= byte << 16;
        for (let bit = 0; bit < 8; bit += 1) {
          crc <<= 1;
          if (crc & 0x1000000) crc ^= 0x1864cfb;
        }
      }
      return crc & 0xffffff;
    };
    for (const size of [1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 1000, 4099]) {
      const bytes = randomBytes(size);
      expect(crc24(bytes)).toBe(plain(bytes));
    }
  });

  it('carries the CRC-24 from part to part', () => {
    const bytes = randomBytes(1000);
    expect(crc24(bytes.subarray(300), crc24(bytes.subarray(0, 300)))).toBe(crc24(bytes));
  });

  it('armors a message given in parts byte for byte as the plain armor of the joined bytes', () => {
    // The plain armor, written the obvious way: one base64 string cut into 60-character lines.
    const reference = (bytes: Buffer) => {
      const b64 = bytes.toString('base64');
      const lines = b64.match(/.{1,60}/g) ?? [];
      const crc = crc24(bytes);
      const check = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
      return `-----BEGIN PGP MESSAGE-----\n\n${lines.map((l) => `${l}\n`).join('')}=${check}\n-----END PGP MESSAGE-----\n`;
    };
    // Around the line (45 bytes), base64 group (3) and chunk (45 × 1024) sizes.
    const sizes = [0, 1, 2, 3, 44, 45, 46, 89, 90, 91, 45 * 1024 - 1, 45 * 1024, 45 * 1024 + 1, 45 * 2048 + 7, 300_001];
    for (const size of sizes) {
      const bytes = randomBytes(size);
      expect(armorMessage(bytes).toString('latin1')).toBe(reference(bytes));
      for (let round = 0; round < 5; round += 1) {
        const parts: Buffer[] = [];
        for (let at = 0; at < size; ) {
          const n = Math.min(size - at, Math.random() < 0.5 ? Math.floor(Math.random() * 50) : Math.floor(Math.random() * 100_000));
          parts.push(bytes.subarray(at, at + n));
          at += n;
        }
        expect(armorParts(parts).toString('latin1')).toBe(reference(bytes));
      }
    }
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

  it('within a session-key window blocks share their key packets, and each still opens alone with gpg and the decrypter', async () => {
    const enc = await testEncryptor([alice.publicArmored, bob.publicArmored], 'zlib', false, 60_000);
    const blocks = Array.from({ length: 4 }, (_, i) => Buffer.from(`line ${i} ${randomBytes(8).toString('hex')}\n`));
    // Two side by side (as a batch seals them), then two after.
    const messages = await Promise.all(blocks.slice(0, 2).map((b, i) => enc.seal(b, { ...meta, seq: i }, new Date())));
    for (const [i, b] of blocks.slice(2).entries()) messages.push(await enc.seal(b, { ...meta, seq: i + 2 }, new Date()));
    const pkesk = messages.map((m) => keyPackets(Buffer.from(m)).toString('hex'));
    expect(new Set(pkesk).size).toBe(1);
    // Same key, yet each body differs from the start: its own random prefix.
    const bodies = messages.map((m) => Buffer.from(m).subarray(pkesk[0]!.length / 2, pkesk[0]!.length / 2 + 24).toString('hex'));
    expect(new Set(bodies).size).toBe(4);
    for (const [i, m] of messages.entries()) expect(gpg.decrypt(Buffer.from(m)).equals(blocks[i] as Buffer)).toBe(true);
    const { data, problems } = await decryptCollect([bob.privateKey], Buffer.concat(messages));
    expect(problems).toEqual([]);
    expect(Buffer.concat(data).equals(Buffer.concat(blocks))).toBe(true);
    // A new window (a rotation, say) gives new key packets.
    enc.endKeyWindow();
    const after = Buffer.from(await enc.seal(Buffer.from('after\n'), meta, new Date()));
    expect(keyPackets(after).toString('hex')).not.toBe(pkesk[0]);
    expect(gpg.decrypt(after).toString()).toBe('after\n');
  });

  it('consecutive small blocks (one reused deflate state) each open alone with gpg and the decrypter', async () => {
    const enc = await testEncryptor([alice.publicArmored], 'zlib', false, 60_000);
    // Alike from block to block, as a trickle's bursts are: a stream that went on from the
    // previous block would refer back into it, and gpg could not open that block alone.
    const blocks = Array.from({ length: 40 }, (_, i) => Buffer.from(Array.from({ length: 1 + (i % 25) }, (_, n) => `GET /item/${(i + n) % 9} HTTP/1.1 200 rid=${i}.${n}\n`).join('')));
    const messages: Buffer[] = [];
    for (const [seq, block] of blocks.entries()) messages.push(Buffer.from(await enc.seal(block, { ...meta, seq }, new Date())));
    for (const [i, m] of messages.entries()) expect(gpg.decrypt(m).equals(blocks[i] as Buffer)).toBe(true);
    const { data, problems } = await decryptCollect([alice.privateKey], Buffer.concat(messages));
    expect(problems).toEqual([]);
    expect(Buffer.concat(data).equals(Buffer.concat(blocks))).toBe(true);
  });

  it('a window of 0 gives every block its own session key', async () => {
    const enc = await testEncryptor([alice.publicArmored], 'zlib', false, 0);
    const messages = await Promise.all([0, 1, 2].map((seq) => enc.seal(Buffer.from('same line\n'), { ...meta, seq }, new Date())));
    // gpg tells the session key it found on stderr.
    const sessionKeys = messages.map((m) => {
      const run = spawnSync('gpg', ['--batch', '--quiet', '--show-session-key', '--decrypt'], { env: gpg.env, input: Buffer.from(m) });
      return /session key: '([^']+)'/.exec(run.stderr.toString())?.[1];
    });
    expect(sessionKeys.every((k) => k !== undefined)).toBe(true);
    expect(new Set(sessionKeys).size).toBe(3);
    expect(new Set(messages.map((m) => keyPackets(Buffer.from(m)).toString('hex'))).size).toBe(3);
  });
});

/** The bytes before the SEIPD packet of a binary message: its PKESK packets. */
function keyPackets(message: Buffer): Buffer {
  let at = 0;
  for (;;) {
    const h = readPacket(message, at);
    if (h.status !== 'ok') throw new Error('not a whole packet');
    if (h.tag === 18) return message.subarray(0, at);
    at = h.end;
  }
}

describe('endingKeyWindows', () => {
  it('passes each append on with its options, and ends the key window before a reopen or a move aside', async () => {
    const calls: string[] = [];
    const inner: Appender = {
      path: '/log',
      append: async (messages, options?: AppendOptions) => void calls.push(`append ${messages.length} ${String(options?.syncOnLoop)}`),
      reopen: async () => void calls.push('reopen'),
      moveAside: async (aside) => void calls.push(`aside ${aside}`),
      size: async () => 5,
      close: async () => void calls.push('close'),
    };
    const wrapped = endingKeyWindows(inner, () => calls.push('end window'));
    await wrapped.append([Buffer.from('a')], { syncOnLoop: true });
    await wrapped.append([Buffer.from('b'), Buffer.from('c')], { syncOnLoop: false });
    await wrapped.append([Buffer.from('d')]);
    await wrapped.reopen();
    await wrapped.moveAside('/log.1');
    expect(await wrapped.size()).toBe(5);
    await wrapped.close();
    expect(wrapped.path).toBe('/log');
    expect(calls).toEqual(['append 1 true', 'append 2 false', 'append 1 undefined', 'end window', 'reopen', 'end window', 'aside /log.1', 'close']);
  });
});
