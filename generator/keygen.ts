import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { errnoCode, PipesError, usageError } from '../runtime/errors.ts';

export interface KeyPair {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly fingerprint: string;
}

/**
 * A key pair GnuPG 2.2/2.4 can use: v4, ed25519 primary with a cv25519 (curve25519Legacy)
 * encryption subkey, no SEIPDv2 feature flag. The secret key is protected by the passphrase.
 */
export async function generateKeyPair(email: string, name: string | undefined, passphrase: string): Promise<KeyPair> {
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(email)) throw usageError('BAD_EMAIL', `--email must be an address like admin@example.org, got ${JSON.stringify(email)}`);
  if (passphrase.length < 8) throw usageError('WEAK_PASSPHRASE', 'the passphrase must be at least 8 characters');
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [name === undefined ? { email } : { name, email }],
    passphrase,
    format: 'armored',
    config: { aeadProtect: false, v6Keys: false },
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** Writes `<email>.pub.asc` (644) and `<email>.sec.asc` (600) into `dir`, never over existing files. */
export async function writeKeyPair(dir: string, email: string, pair: KeyPair): Promise<{ publicPath: string; secretPath: string }> {
  const safe = email.replace(/[^A-Za-z0-9@._-]/g, '_');
  const publicPath = join(dir, `${safe}.pub.asc`);
  const secretPath = join(dir, `${safe}.sec.asc`);
  await writeNew(secretPath, pair.privateKey, 0o600);
  await writeNew(publicPath, pair.publicKey, 0o644);
  return { publicPath, secretPath };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const handle = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch((err: unknown) => {
    throw new PipesError('KEY_WRITE', `cannot create ${JSON.stringify(path)}: ${errnoCode(err) === 'EEXIST' ? 'it already exists' : (errnoCode(err) ?? String(err))}`);
  });
  try {
    await handle.writeFile(text);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
