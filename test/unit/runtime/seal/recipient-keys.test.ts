import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealingFacts } from '../../../../generator/keys.ts';
import type { BakedOptions, BakedRecipient } from '../../../../runtime/baked.ts';
import { packagesUnused } from '../../../../runtime/copy-packages.ts';
import { createEncryptor } from '../../../../runtime/encryptor.ts';
import { parsePkesks } from '../../../../runtime/decrypt/pkesk.ts';
import { parseEncryptionKey } from '../../../../runtime/seal/encryption-key.ts';
import { loadSealingKeys, sealsNatively } from '../../../../runtime/seal/recipient-keys.ts';
import { sessionKeyPacket } from '../../../../runtime/seal/session-key-packet.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { makeKey, type TestKey } from '../../../helpers/keys.ts';

const meta = { streamId: 'ab'.repeat(16), seq: 1, kind: 'data' } as const;
const HOUR = 3_600_000;

async function baked(key: TestKey, at = new Date()): Promise<BakedRecipient> {
  const k = await openpgp.readKey({ armoredKey: key.publicArmored });
  return { fingerprint: key.fingerprint, userIds: k.getUserIDs(), armoredKey: key.publicArmored, sealing: await sealingFacts(k, at) };
}

describe('sealing without openpgp.js', () => {
  const keys: Record<string, TestKey> = {};
  let gpg: TempGpg;

  beforeAll(async () => {
    keys.curve25519 = await makeKey('c@example.org');
    keys.rsa = await makeKey('r@example.org', { type: 'rsa', rsaBits: 2048 });
    keys.p256 = await makeKey('p@example.org', { type: 'ecc', curve: 'nistP256' });
    keys.p384 = await makeKey('q@example.org', { type: 'ecc', curve: 'nistP384' });
    keys.p521 = await makeKey('s@example.org', { type: 'ecc', curve: 'nistP521' });
    gpg = new TempGpg();
    for (const k of Object.values(keys)) gpg.importKey(k.privateArmored);
  }, 60_000);
  afterAll(() => gpg.dispose());

  for (const kind of ['curve25519', 'rsa', 'p256', 'p384', 'p521']) {
    it(`${kind}: blocks sealed with natively made key packets open in gpg and openpgp.js`, async () => {
      const key = keys[kind] as TestKey;
      const recipients = [await baked(key)];
      expect(sealsNatively(recipients)).toBe(true);
      const encryptor = createEncryptor({ recipients: await loadSealingKeys(recipients, new Date(), () => {}, false), compress: 'zlib', armor: true, sessionKeyWindowMs: 0 });
      const block = Buffer.from(`a line for ${kind} — ü\n`.repeat(20));
      const message = await encryptor.seal(block, meta, new Date());
      expect(gpg.decrypt(Buffer.from(message)).equals(block)).toBe(true);
      const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ armoredMessage: Buffer.from(message).toString() }), decryptionKeys: key.privateKey, format: 'binary' });
      expect(Buffer.from(data).equals(block)).toBe(true);
    });
  }

  it('RSA: every packet names the encryption subkey and writes its value as an exact MPI, leading zero bits and bytes included', async () => {
    const key = keys.rsa as TestKey;
    const r = await baked(key);
    const sub = await (await openpgp.readKey({ armoredKey: key.publicArmored })).getEncryptionKey();
    const encryptionKey = parseEncryptionKey(r.sealing!.keyPacket);
    expect(encryptionKey?.algorithm).toBe('rsa');
    const sessionKey = Buffer.alloc(32, 7);
    let shortValues = 0;
    // About one value in 256 starts with a zero byte: 4096 packets give some (one miss in e^16).
    for (let i = 0; i < 4096; i += 1) {
      const packet = sessionKeyPacket(encryptionKey!, sessionKey);
      const [pkesk] = parsePkesks(packet);
      expect(pkesk?.keyId).toBe(sub.getKeyID().toHex().toUpperCase());
      const value = pkesk!.value;
      const bits = packet.readUInt16BE(packet.length - value.length - 2);
      expect(value[0]).not.toBe(0);
      expect(bits).toBe(BigInt(`0x${value.toString('hex')}`).toString(2).length);
      if (value.length < 256 && shortValues++ < 2) {
        const [opened] = await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: packet }), decryptionKeys: key.privateKey });
        expect(Buffer.from(opened!.data).equals(sessionKey)).toBe(true);
      }
    }
    expect(shortValues).toBeGreaterThan(0);
  });

  it('one message opens for each of several recipients of different kinds', async () => {
    const recipients = [await baked(keys.rsa as TestKey), await baked(keys.curve25519 as TestKey)];
    const encryptor = createEncryptor({ recipients: await loadSealingKeys(recipients, new Date(), () => {}, false), compress: 'none', armor: false, sessionKeyWindowMs: 60_000 });
    const block = Buffer.from('both\n');
    const message = await encryptor.seal(block, meta, new Date());
    for (const key of [keys.rsa, keys.curve25519] as TestKey[]) {
      const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: message }), decryptionKeys: key.privateKey, format: 'binary' });
      expect(Buffer.from(data).equals(block)).toBe(true);
    }
  });

  it('refuses at start facts that are not part of the baked key, and an armored secret key', async () => {
    const good = await baked(keys.curve25519 as TestKey);
    const other = await baked(keys.p256 as TestKey);
    const mixed = { ...good, sealing: other.sealing };
    await expect(loadSealingKeys([mixed], new Date(), () => {}, false)).rejects.toMatchObject({ code: 'KEY_UNUSABLE' });
    const secret = { ...good, armoredKey: (keys.curve25519 as TestKey).privateArmored };
    await expect(loadSealingKeys([secret], new Date(), () => {}, false)).rejects.toMatchObject({ code: 'SECRET_KEY' });
    // Another key's packet carried inside the baked key (here in a user attribute packet, as a
    // third party's certification could carry it in a notation) is not one of its key packets.
    const bytes = (await openpgp.unarmor(good.armoredKey)).data as Uint8Array;
    const body = Buffer.from(other.sealing!.keyPacket, 'hex');
    const carried = Buffer.concat([Buffer.from(bytes), Buffer.from([0xc0 | 17, 0xff]), Buffer.alloc(4), body]);
    carried.writeUInt32BE(body.length, carried.length - body.length - 4);
    const smuggled = { ...good, armoredKey: openpgp.armor(openpgp.enums.armor.publicKey, carried), sealing: other.sealing };
    await expect(loadSealingKeys([smuggled], new Date(), () => {}, false)).rejects.toMatchObject({ code: 'KEY_UNUSABLE' });
    // Old-format packet headers (as gpg --export writes them) are read too.
    const gpgExported = { ...good, armoredKey: gpg.run(['--armor', '--export', good.fingerprint]).toString() };
    expect(gpgExported.armoredKey).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    await expect(loadSealingKeys([gpgExported], new Date(), () => {}, false)).resolves.toBeDefined();
    const torn = { ...good, sealing: { ...good.sealing!, keyPacket: good.sealing!.keyPacket.slice(0, 40) } };
    await expect(loadSealingKeys([torn], new Date(), () => {}, false)).rejects.toMatchObject({ code: 'KEY_UNUSABLE' });
    // A key packet with more than the public fields (a secret key's) is refused, whatever the algorithm.
    for (const k of [good, await baked(keys.rsa as TestKey)]) {
      const padded = { ...k, sealing: { ...k.sealing!, keyPacket: `${k.sealing!.keyPacket}00` } };
      await expect(loadSealingKeys([padded], new Date(), () => {}, false)).rejects.toMatchObject({ code: 'SECRET_KEY' });
    }
  });

  it('past its window it seals as at generation and says so once; a window that excludes the generation is refused', async () => {
    const key = keys.curve25519 as TestKey;
    const now = Date.now();
    const r = await baked(key);
    const expired = { ...r, sealing: { ...r.sealing!, validFrom: new Date(now - 3 * HOUR).toISOString(), validUntil: new Date(now - HOUR).toISOString() } };
    const generatedAt = new Date(now - 2 * HOUR);
    const said: string[] = [];
    const sealing = await loadSealingKeys([expired], generatedAt, (d) => said.push(d), false);
    expect(await sealing.validAt(new Date(now))).toEqual(generatedAt);
    expect(await sealing.validAt(new Date(now + 1000))).toEqual(generatedAt);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(key.fingerprint);
    const block = Buffer.from('still sealed\n');
    const message = await createEncryptor({ recipients: sealing, compress: 'zlib', armor: true, sessionKeyWindowMs: 0 }).seal(block, meta, new Date(now));
    expect(gpg.decrypt(Buffer.from(message)).equals(block)).toBe(true);
    await expect(loadSealingKeys([expired], new Date(now), () => {}, false)).rejects.toMatchObject({ code: 'KEY_UNUSABLE' });
  });

  it('keys without facts go through openpgp.js, as before', async () => {
    const { sealing: _, ...plain } = await baked(keys.p256 as TestKey);
    expect(sealsNatively([plain])).toBe(false);
    const keysNow = await loadSealingKeys([plain], new Date(), () => {}, false);
    expect(await keysNow.openpgpKeys()).toHaveLength(1);
    const block = Buffer.from('via openpgp.js\n');
    const message = await createEncryptor({ recipients: keysNow, compress: 'zlib', armor: true, sessionKeyWindowMs: 0 }).seal(block, meta, new Date());
    expect(gpg.decrypt(Buffer.from(message)).equals(block)).toBe(true);
  });
});

describe('packagesUnused', () => {
  it('leaves out openpgp.js, nodemailer and the NATS client unless the options use them', async () => {
    const key = await makeKey('u@example.org');
    const r = await baked(key);
    const base = { recipients: [r], rotation: null } as unknown as BakedOptions;
    const nats = ['@nats-io/transport-node', '@nats-io/jetstream'];
    expect(packagesUnused(base)).toEqual(['openpgp', 'nodemailer', ...nats]);
    expect(packagesUnused({ ...base, recipients: [{ ...r, sealing: undefined }] } as unknown as BakedOptions)).toEqual(['nodemailer', ...nats]);
    expect(packagesUnused({ ...base, rotation: { mail: null } } as unknown as BakedOptions)).toEqual(['nodemailer', ...nats]);
    expect(packagesUnused({ ...base, rotation: { mail: { to: ['a@b'] } } } as unknown as BakedOptions)).toEqual(nats);
    expect(packagesUnused({ ...base, report: { everyMs: 1 } } as unknown as BakedOptions)).toEqual(nats);
    expect(packagesUnused({ ...base, forward: [{ kind: 'ssh' }] } as unknown as BakedOptions)).toEqual(['openpgp', 'nodemailer', ...nats]);
    expect(packagesUnused({ ...base, forward: [{ kind: 'nats' }] } as unknown as BakedOptions)).toEqual(['openpgp', 'nodemailer']);
  });
});
