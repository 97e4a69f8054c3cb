import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import type { DecryptionKey } from '../../runtime/decrypt/decryption-keys.ts';
import { readSecretKey } from '../../runtime/decrypt/secret-key.ts';
import { createEncryptor, type Encryptor } from '../../runtime/encryptor.ts';
import { loadRecipientKeys } from '../../runtime/recipients.ts';

export interface TestKey {
  readonly publicArmored: string;
  readonly privateArmored: string;
  readonly fingerprint: string;
  readonly privateKey: openpgp.PrivateKey;
}

/** A GnuPG-compatible test key without a passphrase (fixtures only; real keys use keygen). */
export async function makeKey(email: string, extra: Partial<Parameters<typeof openpgp.generateKey>[0]> = {}): Promise<TestKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email }],
    format: 'armored',
    config: { aeadProtect: false },
    ...extra,
  } as Parameters<typeof openpgp.generateKey>[0] & { format: 'armored' });
  const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return { publicArmored: publicKey, privateArmored: privateKey, fingerprint: key.getFingerprint().toUpperCase(), privateKey: key };
}

/**
 * A key openpgp.js holds, as the decrypter takes it: read natively when its shape allows (as
 * `--key` reads it), else for openpgp.js only.
 */
export function decryptionKeyOf(key: openpgp.PrivateKey): DecryptionKey {
  const read = key.isDecrypted() ? readSecretKey(key.armor()) : null;
  const fingerprint = key.getFingerprint().toUpperCase();
  if (read === null || read.locked) return { fingerprint, native: [], otherKeyIds: null, openpgp: () => Promise.resolve(key) };
  return { fingerprint, native: read.unlock(null), otherKeyIds: read.otherKeyIds, openpgp: () => Promise.resolve(key) };
}

export function writeKeyFiles(dir: string, name: string, key: TestKey): { pub: string; sec: string } {
  const pub = join(dir, `${name}.pub.asc`);
  const sec = join(dir, `${name}.sec.asc`);
  writeFileSync(pub, key.publicArmored);
  writeFileSync(sec, key.privateArmored, { mode: 0o600 });
  return { pub, sec };
}

/** The copy's block encryptor for test keys, checked as valid now; by default a fresh session key per block. */
export async function testEncryptor(armoredKeys: readonly string[], compress: 'zlib' | 'none', armor: boolean, sessionKeyWindowMs = 0): Promise<Encryptor> {
  return createEncryptor({ recipients: await loadRecipientKeys(armoredKeys, new Date()), compress, armor, sessionKeyWindowMs });
}
