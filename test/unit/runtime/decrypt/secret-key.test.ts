import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../../../generator/keygen.ts';
import { ASK_OPENPGP, nativeSessionKey, type DecryptionKey } from '../../../../runtime/decrypt/decryption-keys.ts';
import { readKeyPackets } from '../../../../runtime/format/key-packets.ts';
import { KeyFormatError, readSecretKey, WrongPassphrase } from '../../../../runtime/decrypt/secret-key.ts';
import { readPacket } from '../../../../runtime/format/split.ts';
import { crc24 } from '../../../../runtime/format/packets.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { makeKey, testEncryptor } from '../../../helpers/keys.ts';

/**
 * The native secret-key reader against openpgp.js on the key shapes admins have: gpg's
 * future-default (ed25519 + cv25519), unprotected and passphrase-protected as gpg exports it,
 * gpg 2.2's default shape (RSA primary and encryption subkey), keys made by `paranoid-pipes
 * keygen`, and openpgp.js's own. Same fingerprints and key IDs, same session keys on
 * real messages (the copy's and gpg's), and a damaged key refused.
 */
const PASS = 'correct horse battery';
const gpg = new TempGpg();

interface Sample {
  readonly name: string;
  readonly secret: string;
  readonly publicKey: string;
  readonly passphrase: string | null;
  readonly email: string;
}
const samples: Sample[] = [];

function gpgKey(email: string, passphrase: string | null, algo = 'future-default'): Sample {
  const pass = ['--pinentry-mode', 'loopback', '--passphrase', passphrase ?? ''];
  if (algo === 'rsa') {
    // GnuPG 2.2's default shape (RSA-3072 there): an RSA primary key for signing, an RSA encryption subkey.
    gpg.run([...pass, '--quick-gen-key', email, 'rsa2048', 'cert,sign', 'never']);
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg.run(['--with-colons', '--list-keys', email]).toString())![1]!;
    gpg.run([...pass, '--quick-add-key', fpr, 'rsa2048', 'encr', 'never']);
  } else gpg.run([...pass, '--quick-gen-key', email, algo, 'default', 'never']);
  const secret = gpg.run([...pass, '--armor', '--export-secret-keys', email]).toString();
  const publicKey = gpg.run(['--armor', '--export', email]).toString();
  return { name: `gpg ${algo} ${passphrase === null ? 'unprotected' : 'protected'}`, secret, publicKey, passphrase, email };
}

beforeAll(async () => {
  samples.push(gpgKey('plain@example.org', null), gpgKey('locked@example.org', PASS), gpgKey('rsa-locked@example.org', PASS, 'rsa'));
  const made = await generateKeyPair('keygen@example.org', undefined, PASS);
  samples.push({ name: 'keygen', secret: made.privateKey, publicKey: made.publicKey, passphrase: PASS, email: 'keygen@example.org' });
  const test = await makeKey('fixture@example.org');
  samples.push({ name: 'openpgp.js unprotected', secret: test.privateArmored, publicKey: test.publicArmored, passphrase: null, email: 'fixture@example.org' });
  const rsa = await makeKey('rsa@example.org', { type: 'rsa', rsaBits: 2048 } as never);
  samples.push({ name: 'openpgp.js RSA unprotected', secret: rsa.privateArmored, publicKey: rsa.publicArmored, passphrase: null, email: 'rsa@example.org' });
}, 120_000);
afterAll(() => gpg.dispose());

/** The key as openpgp.js reads and unlocks it: the reference. */
async function reference(s: Sample): Promise<openpgp.PrivateKey> {
  const key = await openpgp.readPrivateKey({ armoredKey: s.secret });
  return s.passphrase === null ? key : openpgp.decryptKey({ privateKey: key, passphrase: s.passphrase });
}

function nativeKey(s: Sample): DecryptionKey {
  const read = readSecretKey(s.secret);
  if (read === null) throw new Error(`${s.name}: not read natively`);
  return { fingerprint: read.fingerprint, native: read.unlock(s.passphrase), otherKeyIds: read.otherKeyIds, openpgp: () => Promise.reject(new Error('openpgp.js was asked')) };
}

/** The key packets in front of a binary message's encrypted data. */
function keyPackets(msg: Buffer): Buffer {
  let at = 0;
  for (;;) {
    const h = readPacket(msg, at);
    if (h.status !== 'ok' || h.tag !== 1) return msg.subarray(0, at);
    at = h.end;
  }
}

async function openpgpSessionKey(msg: Buffer, key: openpgp.PrivateKey): Promise<string> {
  const [k] = await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: keyPackets(msg) }), decryptionKeys: key });
  return Buffer.from(k!.data).toString('hex');
}

function nativeSessionKeyHex(msg: Buffer, key: DecryptionKey): string {
  const found = nativeSessionKey(keyPackets(msg), [key]);
  if (found === ASK_OPENPGP) throw new Error('left to openpgp.js');
  return Buffer.from(found.data).toString('hex');
}

const copyMessage = async (publicKey: string, text: string) =>
  Buffer.from(await (await testEncryptor([publicKey], 'zlib', false)).seal(Buffer.from(text), { streamId: 'cd'.repeat(16), seq: 0, kind: 'data' }, new Date()));

describe('readSecretKey on the shapes admins have', () => {
  it('gives the fingerprint and decryption key IDs openpgp.js gives, and knows which keys are protected', async () => {
    for (const s of samples) {
      const read = readSecretKey(s.secret);
      expect(read, s.name).not.toBeNull();
      const ref = await reference(s);
      expect(read!.fingerprint, s.name).toBe(ref.getFingerprint().toUpperCase());
      expect(read!.locked, s.name).toBe(s.passphrase !== null);
      // An RSA primary key could decrypt by its algorithm: it is left to openpgp.js, which reads its flags.
      const rsaPrimary = ref.keyPacket.algorithm === openpgp.enums.publicKey.rsaEncryptSign;
      expect([...read!.otherKeyIds], s.name).toEqual(rsaPrimary ? [ref.getKeyID().toHex().toUpperCase()] : []);
      const ids = read!.unlock(s.passphrase).map((k) => k.keyId);
      const refIds = (await ref.getDecryptionKeys()).map((k) => k.getKeyID().toHex().toUpperCase());
      expect(ids, s.name).toEqual(refIds);
    }
  });

  it('opens the session keys openpgp.js opens, of the copy\'s blocks and of messages gpg wrote (hidden recipient too)', async () => {
    for (const s of samples) {
      const key = nativeKey(s);
      const ref = await reference(s);
      const fromCopy = await copyMessage(s.publicKey, 'a line\n');
      expect(nativeSessionKeyHex(fromCopy, key), s.name).toBe(await openpgpSessionKey(fromCopy, ref));
      gpg.importKey(s.publicKey);
      for (const extra of [[], ['--throw-keyids']]) {
        const fromGpg = gpg.run(['--trust-model', 'always', '--encrypt', ...extra, '--recipient', s.email], 'a line\n');
        expect(nativeSessionKeyHex(fromGpg, key), `${s.name} ${extra.join(' ')}`).toBe(await openpgpSessionKey(fromGpg, ref));
      }
    }
  });

  it('refuses a wrong or missing passphrase', () => {
    for (const s of samples.filter((x) => x.passphrase !== null)) {
      const read = readSecretKey(s.secret)!;
      expect(() => read.unlock('wrong passphrase'), s.name).toThrow(WrongPassphrase);
      expect(() => read.unlock(null), s.name).toThrow(WrongPassphrase);
    }
  });

  it('says no key opens a message for another key, without asking openpgp.js', async () => {
    const [mine, theirs] = [samples[0]!, samples[3]!];
    const msg = await copyMessage(theirs.publicKey, 'x\n');
    expect(() => nativeSessionKey(keyPackets(msg), [nativeKey(mine)])).toThrow(/no key given opens it: its session key is for key ID [0-9A-F]{16}/);
  });

  it('leaves a key of another curve (NIST P-256) to openpgp.js', async () => {
    const nist = await makeKey('nist@example.org', { curve: 'nistP256' } as never);
    expect(readSecretKey(nist.privateArmored)).toBeNull();
  });
});

describe('readSecretKey refuses a damaged key', () => {
  /** The unprotected gpg key with its cv25519 subkey's secret scalar changed by `change`. */
  function tampered(change: (body: Buffer, secretAt: number) => void): string {
    const binary = Buffer.from(dearmorBody(samples[0]!.secret), 'base64');
    for (let at = 0; at < binary.length; ) {
      const h = readPacket(binary, at);
      if (h.status !== 'ok') throw new Error('unreadable fixture');
      if (h.tag === 7) {
        // v4 ECDH public part: version, time, algorithm, OID (1+10), point MPI (2+33), KDF (4).
        change(binary.subarray(h.bodyStart, h.end), 1 + 4 + 1 + 11 + 35 + 4);
        return armor(binary);
      }
      at = h.end;
    }
    throw new Error('no subkey');
  }
  const fixChecksum = (body: Buffer, secretAt: number) => {
    const material = body.subarray(secretAt + 1, body.length - 2);
    body.writeUInt16BE(material.reduce((a, b) => (a + b) & 0xffff, 0), body.length - 2);
  };

  it('a changed secret scalar with its checksum fixed: it does not give the public point', () => {
    const text = tampered((body, secretAt) => {
      body[secretAt + 1 + 2 + 7]! ^= 0x10; // a byte of the scalar, after the usage octet and MPI length
      fixChecksum(body, secretAt);
    });
    // Checked where the scalar is taken (for an unprotected key too: unlock(null)).
    expect(() => readSecretKey(text)!.unlock(null)).toThrow(KeyFormatError);
    expect(() => readSecretKey(text)!.unlock(null)).toThrow(/does not give its public key/);
  });

  it('a changed secret scalar alone: its checksum does not match (openpgp.js says so too)', async () => {
    const text = tampered((body, secretAt) => void (body[secretAt + 1 + 2 + 7]! ^= 0x10));
    expect(() => readSecretKey(text)).toThrow(/checksum of the secret of key [0-9A-F]{16} does not match/);
    await expect(openpgp.readPrivateKey({ armoredKey: text })).rejects.toThrow(/checksum/i);
  });

  it('a changed armor character: the CRC-24 line does not match', () => {
    const lines = samples[0]!.secret.split('\n');
    const i = lines.findIndex((l) => l.length > 40);
    const line = lines[i]!;
    lines[i] = line.slice(0, 10) + (line[10] === 'A' ? 'B' : 'A') + line.slice(11);
    expect(() => readSecretKey(lines.join('\n'))).toThrow(/armor checksum \(CRC-24\) does not match/);
  });

  it('an RSA subkey whose d changed (checksum fixed): its numbers do not fit together', () => {
    const rsa = samples.find((s) => s.name === 'openpgp.js RSA unprotected')!;
    const binary = Buffer.from(dearmorBody(rsa.secret), 'base64');
    for (let at = 0; at < binary.length; ) {
      const h = readPacket(binary, at);
      if (h.status !== 'ok') throw new Error('unreadable fixture');
      if (h.tag === 7) {
        const body = binary.subarray(h.bodyStart, h.end);
        // version, time, algorithm, then the MPIs n and e: the secret starts after them.
        let secretAt = 6;
        for (let i = 0; i < 2; i += 1) secretAt += 2 + Math.ceil(body.readUInt16BE(secretAt) / 8);
        body[secretAt + 1 + 2 + 5]! ^= 0x01;
        const material = body.subarray(secretAt + 1, body.length - 2);
        body.writeUInt16BE(material.reduce((a, b) => (a + b) & 0xffff, 0), body.length - 2);
        break;
      }
      at = h.end;
    }
    expect(() => readSecretKey(armor(binary))!.unlock(null)).toThrow(/does not match its public key/);
  });

  it('a protected key whose encrypted secret changed fails its SHA-1 check as a wrong passphrase would', () => {
    const s = samples[1]!;
    const binary = Buffer.from(dearmorBody(s.secret), 'base64');
    let subkey = -1;
    for (let at = 0; at < binary.length; ) {
      const h = readPacket(binary, at);
      if (h.status !== 'ok') break;
      if (h.tag === 7) subkey = h.end;
      at = h.end;
    }
    binary[subkey - 5]! ^= 1;
    expect(() => readSecretKey(armor(binary))!.unlock(PASS)).toThrow(WrongPassphrase);
  });
});

describe('readSecretKey with an S2K that needs more than one digest (RFC 4880 3.7.1.3)', () => {
  // GnuPG exports with SHA-1 and AES-128, openpgp.js protects with SHA-256 and AES-256: a digest
  // is enough for the key either way. SHA-1 for AES-256 (as GnuPG 1.4 writes with
  // --s2k-cipher-algo AES256) needs a second context, preloaded with one zero octet; openpgp.js
  // reads the key made here, so the native reader must too.
  it('a cv25519 subkey protected with iterated SHA-1 and AES-256 unlocks as in openpgp.js', async () => {
    const s = samples[0]!;
    const binary = Buffer.from(dearmorBody(s.secret), 'base64');
    const out: Buffer[] = [];
    for (let at = 0; at < binary.length; ) {
      const h = readPacket(binary, at);
      if (h.status !== 'ok') throw new Error('unreadable sample');
      const whole = binary.subarray(at, h.end);
      at = h.end;
      const [k] = h.tag === 7 ? readKeyPackets(whole)! : [];
      if (k === undefined || !('secret' in k) || k.secret === null) {
        out.push(whole);
        continue;
      }
      // The public part as it was, then the material protected anew.
      const secretAt = k.secret.byteOffset - whole.byteOffset;
      const body = Buffer.concat([whole.subarray(h.bodyStart - (whole.byteOffset - binary.byteOffset), secretAt), sha1Aes256(k.secret.subarray(1, k.secret.length - 2), PASS)]);
      const length = body.length < 192 ? [body.length] : [((body.length - 192) >> 8) + 192, (body.length - 192) & 0xff];
      out.push(Buffer.from([0xc0 | 7, ...length]), body);
    }
    const armored = armor(Buffer.concat(out));
    const key = await openpgp.readPrivateKey({ armoredKey: armored });
    const packet = key.subkeys[0]!.keyPacket as openpgp.SecretSubkeyPacket;
    expect(packet.isDecrypted()).toBe(false);
    await packet.decrypt(PASS); // openpgp.js checks the SHA-1: it throws when the S2K key is not this one
    expect(packet.isDecrypted()).toBe(true);
    const read = readSecretKey(armored)!;
    expect(read.locked).toBe(true);
    const native = { fingerprint: read.fingerprint, native: read.unlock(PASS), otherKeyIds: read.otherKeyIds, openpgp: () => Promise.reject(new Error('openpgp.js was asked')) };
    const msg = await copyMessage(s.publicKey, 'sha-1 s2k\n');
    expect(nativeSessionKeyHex(msg, native)).toBe(await openpgpSessionKey(msg, await reference(s)));
    expect(() => read.unlock('wrong')).toThrow(WrongPassphrase);
  });
});

/** S2K usage 254, AES-256, iterated and salted SHA-1 (count byte 0: 1024 octets), the material's SHA-1 inside. */
function sha1Aes256(material: Buffer, passphrase: string): Buffer {
  const salt = randomBytes(8);
  const unit = Buffer.concat([salt, Buffer.from(passphrase)]);
  const stream = Buffer.concat(Array.from({ length: Math.ceil(1024 / unit.length) }, () => unit)).subarray(0, 1024);
  const key = Buffer.concat([0, 1].map((zeros) => createHash('sha1').update(Buffer.alloc(zeros)).update(stream).digest())).subarray(0, 32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cfb', key, iv);
  const encrypted = Buffer.concat([cipher.update(Buffer.concat([material, createHash('sha1').update(material).digest()])), cipher.final()]);
  return Buffer.concat([Buffer.from([254, 9, 3, 2]), salt, Buffer.from([0]), iv, encrypted]);
}

function dearmorBody(text: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf('') + 1;
  return lines.slice(start).filter((l) => /^[A-Za-z0-9+/]+=*$/.test(l)).join('');
}

function armor(binary: Buffer): string {
  const b64 = binary.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  const crc = crc24(binary);
  const sum = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
  return `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${b64}\n=${sum}\n-----END PGP PRIVATE KEY BLOCK-----\n`;
}
