import { readFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import type { DecryptionKey } from '../runtime/decrypt/decryption-keys.ts';
import { loadOpenpgp } from '../runtime/decrypt/load-openpgp.ts';
import { KeyFormatError, readSecretKey, WrongPassphrase } from '../runtime/decrypt/secret-key.ts';
import { errnoCode, usageError } from '../runtime/errors.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';

/** What `decrypt` and `verify` share besides the input reading (runtime/decrypt/): secret keys and their passphrase. */

/** The options `decrypt` and `verify` share: which keys open the logs and archives, and where archives are. */
export interface LogKeyOptions extends PassphraseSource {
  readonly key: readonly string[];
  /** Keys for the outer layer of archives; the log keys when none are given. */
  readonly archiveKey?: readonly string[];
  readonly archiveDir?: string;
}

/** One passphrase for every protected key, read at most once, and only if a key needs it. */
export function passphraseOnce(options: PassphraseSource, env: NodeJS.ProcessEnv): (fingerprint: string) => Promise<string | null> {
  let cached: Promise<string | null> | null = null;
  return (fingerprint) => (cached ??= readPassphrase(options, `Passphrase for ${fingerprint}: `, env));
}

type Passphrase = (fingerprint: string) => Promise<string | null>;

/**
 * Reads each secret key file: natively when its decryption subkeys are of the shapes admins have
 * (runtime/decrypt/secret-key.ts: Curve25519 ECDH from gpg or keygen, or gpg's RSA), so that
 * decrypting never loads openpgp.js; any other key with openpgp.js, as before. Either way the
 * same errors.
 */
export async function loadSecretKeys(files: readonly string[], option: string, passphrase: Passphrase): Promise<DecryptionKey[]> {
  const keys: DecryptionKey[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw usageError('KEY_FILE_UNREADABLE', `${option} ${JSON.stringify(file)}: cannot read: ${errnoCode(err) ?? String(err)}`);
    });
    const where = `${option} ${JSON.stringify(file)}`;
    keys.push((await nativeKey(text, where, passphrase)) ?? (await openpgpKey(text, where, passphrase)));
  }
  return keys;
}

async function nativeKey(text: string, where: string, passphrase: Passphrase): Promise<DecryptionKey | null> {
  let read;
  try {
    read = readSecretKey(text);
  } catch (err) {
    throw damaged(where, err);
  }
  if (read === null) return null;
  const secret = read.locked ? await passphrase(read.fingerprint) : null;
  if (read.locked && secret === null) throw passphraseNeeded(where);
  let native;
  try {
    native = read.unlock(secret);
  } catch (err) {
    if (err instanceof WrongPassphrase) throw badPassphrase(where);
    throw damaged(where, err);
  }
  // The same key for openpgp.js, read only if a message needs it (the passphrase is known by then).
  let forOpenpgp: Promise<openpgp.PrivateKey> | null = null;
  return {
    fingerprint: read.fingerprint,
    native,
    otherKeyIds: read.otherKeyIds,
    openpgp: () => (forOpenpgp ??= readWithOpenpgp(text, secret)),
  };
}

async function readWithOpenpgp(text: string, secret: string | null): Promise<openpgp.PrivateKey> {
  const pgp = await loadOpenpgp();
  const key = await pgp.readPrivateKey({ armoredKey: text });
  return key.isDecrypted() || secret === null ? key : pgp.decryptKey({ privateKey: key, passphrase: secret });
}

/** A key only openpgp.js reads (RSA, another curve, another armor or S2K): read and unlocked now, as before. */
async function openpgpKey(text: string, where: string, passphrase: Passphrase): Promise<DecryptionKey> {
  const pgp = await loadOpenpgp();
  const key = await pgp.readPrivateKey({ armoredKey: text }).catch((err: unknown) => {
    throw usageError('KEY_UNREADABLE', `${where}: not an armored OpenPGP secret key (${(err as Error).message})`);
  });
  let unlocked: openpgp.PrivateKey = key;
  if (!key.isDecrypted()) {
    const secret = await passphrase(key.getFingerprint().toUpperCase());
    if (secret === null) throw passphraseNeeded(where);
    unlocked = await pgp.decryptKey({ privateKey: key, passphrase: secret }).catch(() => {
      throw badPassphrase(where);
    });
  }
  return { fingerprint: key.getFingerprint().toUpperCase(), native: [], otherKeyIds: null, openpgp: () => Promise.resolve(unlocked) };
}

const passphraseNeeded = (where: string) => usageError('PASSPHRASE_NEEDED', `${where} is passphrase-protected: give --passphrase-file, --passphrase-fd or --passphrase-env, or run on a terminal`);
const badPassphrase = (where: string) => usageError('BAD_PASSPHRASE', `${where}: wrong passphrase`);
/** A key of the native shape that is damaged: refused with the reason; anything else is a bug and goes on. */
const damaged = (where: string, err: unknown): unknown => (err instanceof KeyFormatError ? usageError('KEY_UNREADABLE', `${where}: damaged secret key: ${err.message}`) : err);
