import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpgSessionKeys } from '../../../../runtime/decrypt/gpg-session-keys.ts';
import { LogDecrypter } from '../../../../runtime/decrypt/reader.ts';
import { readPacket } from '../../../../runtime/format/split.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { makeKey, testEncryptor, type TestKey } from '../../../helpers/keys.ts';

/**
 * Session keys through a real GnuPG (a temp GNUPGHOME): straight from gpg-agent over its socket,
 * or through batched gpg calls, one per distinct key either way.
 */
let key: TestKey;
let rsa: TestKey;
let other: TestKey;
const gpg = new TempGpg();

beforeAll(async () => {
  key = await makeKey('gpg-unit@example.org');
  rsa = await makeKey('gpg-rsa@example.org', { type: 'rsa', rsaBits: 2048 } as never);
  other = await makeKey('not-in-keyring@example.org');
  gpg.importKey(key.privateArmored);
  gpg.importKey(rsa.privateArmored);
}, 60_000);
afterAll(() => gpg.dispose());

/** What openpgp.js finds with the private key itself: the reference. */
const reference = async (msg: Buffer, recipient: TestKey) => {
  const [k] = await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: msg }), decryptionKeys: recipient.privateKey });
  return Buffer.from(k!.data).toString('hex');
};

describe('gpgSessionKeys through gpg-agent', () => {
  it('decrypts ECDH (cv25519) and RSA session keys over one agent connection, no gpg call, the same keys openpgp.js finds', async () => {
    const notices: string[] = [];
    const { sessionKeyOf, stats, close } = gpgSessionKeys({ env: gpg.env, notice: (t) => void notices.push(t) });
    try {
      const msgs = await Promise.all([0, 1, 2].map((i) => seal(key, `a${i}\n`, i)));
      const rsaMsgs = await Promise.all([0, 1].map((i) => seal(rsa, `r${i}\n`, i)));
      const keys = await Promise.all([...msgs, ...rsaMsgs].map((m) => sessionKeyOf(keyPackets(m))));
      expect(notices).toEqual([]);
      expect(stats.calls).toBe(0);
      expect(stats.agentOperations).toBe(5);
      for (const [i, m] of msgs.entries()) expect(Buffer.from(keys[i]!.data).toString('hex')).toBe(await reference(m, key));
      for (const [i, m] of rsaMsgs.entries()) expect(Buffer.from(keys[3 + i]!.data).toString('hex')).toBe(await reference(m, rsa));
      expect(keys.every((k) => k?.algorithm === 'aes256')).toBe(true);
    } finally {
      await close();
    }
  });

  it('hands key packets for a key the agent does not hold to gpg (null), and a damaged one gets null, not a wrong key', async () => {
    const { sessionKeyOf, stats, close } = gpgSessionKeys({ env: gpg.env });
    try {
      expect(await sessionKeyOf(keyPackets(await seal(other, 'x\n', 0)))).toBe(null);
      expect(stats.calls).toBe(1); // gpg was asked, and had no key either
      const packets = Buffer.from(keyPackets(await seal(key, 'y\n', 1)));
      packets[packets.length - 3]! ^= 0xff; // inside the wrapped session key
      expect(await sessionKeyOf(packets)).toBe(null);
    } finally {
      await close();
    }
  });

  it('never hands the agent a key packet of a shape it cannot take (a 3-byte ECDH point once made gpg-agent exit), and goes on using the key', async () => {
    const { sessionKeyOf, stats, close } = gpgSessionKeys({ env: gpg.env });
    try {
      const real = keyPackets(await seal(key, 'p\n', 0));
      const h = readPacket(real, 0) as { bodyStart: number; end: number };
      const body = real.subarray(h.bodyStart, h.end);
      // v3, key ID, algorithm 18 (ECDH), then an MPI of 17 bits: 0x40 0x01 0x02; the wrapped key as it was.
      const mpiBytes = 2 + Math.ceil(body.readUInt16BE(10) / 8);
      const forged = Buffer.concat([body.subarray(0, 10), Buffer.from([0x00, 0x11, 0x40, 0x01, 0x02]), body.subarray(10 + mpiBytes)]);
      const packet = Buffer.concat([Buffer.from([0xc1, forged.length]), forged]);
      const before = stats.agentOperations;
      expect(await sessionKeyOf(packet)).toBe(null);
      expect(stats.calls).toBe(0); // nor gpg, which would hand it to the agent
      expect(stats.agentOperations).toBe(before);
      // The agent is still there, and the key still in use.
      const good = await seal(key, 'q\n', 1);
      expect(Buffer.from((await sessionKeyOf(keyPackets(good)))!.data).toString('hex')).toBe(await reference(good, key));
      expect(stats.agentOperations).toBe(before + 1);
    } finally {
      await close();
    }
  });

  it('falls back to gpg, and says so, when there is no agent to talk to', async () => {
    const notices: string[] = [];
    const { sessionKeyOf, stats } = gpgSessionKeys({ env: { ...gpg.env, PATH: `${fakeGpgconf()}:${process.env.PATH}` }, notice: (t) => void notices.push(t) });
    expect(await sessionKeyOf(keyPackets(await seal(key, 'z\n', 0)))).not.toBe(null);
    expect(stats.calls).toBe(1);
    expect(notices.join('')).toMatch(/cannot ask gpg-agent directly.*asking gpg instead/);
  });
});

const seal = async (recipient: TestKey, text: string, seq: number) =>
  Buffer.from(await (await testEncryptor([recipient.publicArmored], 'zlib', false)).seal(Buffer.from(text), { streamId: 'ef'.repeat(16), seq, kind: 'data' }, new Date()));
const keyPackets = (msg: Buffer) => msg.subarray(0, (readPacket(msg, 0) as { end: number }).end);

describe('gpgSessionKeys', () => {
  it('asks gpg once for keys requested together, once per distinct key packet, null for a key it lacks', async () => {
    const { sessionKeyOf, stats } = gpgSessionKeys({ env: gpg.env, route: 'gpg' });
    const msgs = await Promise.all([0, 1, 2].map((i) => seal(key, `m${i}\n`, i)));
    const foreign = await seal(other, 'x\n', 3);
    const asked = [...msgs, msgs[0]!, foreign].map((m) => sessionKeyOf(keyPackets(m)));
    const keys = await Promise.all(asked);
    expect(stats.calls).toBeLessThanOrEqual(2); // the batch, and each one alone if gpg stopped at the foreign one
    expect(stats.keys).toBe(4);
    expect(keys.slice(0, 3).every((k) => k?.algorithm === 'aes256' && k.data.length === 32)).toBe(true);
    expect(keys[3]).toBe(keys[0]);
    expect(keys[4]).toBe(null);
  });

  it('answers requests made one after another, each as the last call ends', async () => {
    const { sessionKeyOf, stats } = gpgSessionKeys({ env: gpg.env, route: 'gpg' });
    const msgs = await Promise.all([0, 1, 2, 3].map((i) => seal(key, `s${i}\n`, i)));
    for (const m of msgs) expect(await sessionKeyOf(keyPackets(m))).not.toBe(null);
    expect(stats.calls).toBe(4);
  });

  it('opens blocks through the reader with no private key in the process', async () => {
    const { sessionKeyOf } = gpgSessionKeys({ env: gpg.env, route: 'gpg' });
    const got: string[] = [];
    const problems: string[] = [];
    const decrypter = new LogDecrypter([], { data: (b) => void got.push(Buffer.from(b).toString()), control: () => {}, problem: (p) => void problems.push(p.kind) }, sessionKeyOf);
    const blocks = await Promise.all([0, 1, 2, 3, 4].map((i) => seal(key, `line ${i}\n`, i)));
    await decrypter.decryptBuffer(Buffer.concat([...blocks, await seal(other, 'nope\n', 5)]), 'log');
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => `line ${i}\n`));
    expect(problems).toEqual(['undecryptable']);
  });
});

/** A gpgconf that names a socket nobody listens on, as when the agent cannot be reached. */
function fakeGpgconf(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pp-fake-gpgconf-'));
  writeFileSync(join(dir, 'gpgconf'), `#!/bin/sh\necho ${join(dir, 'no-agent')}\n`);
  chmodSync(join(dir, 'gpgconf'), 0o755);
  return dir;
}
