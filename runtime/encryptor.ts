import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { PipesError, refusal } from './errors.ts';
import { formatMetadata, type BlockMetadata } from './metadata.ts';

/**
 * Seals one block into one standalone OpenPGP message that stock `gpg --decrypt` opens.
 *
 * Why a session key of our own: openpgp.js picks SEIPDv2 (AEAD) whenever every recipient key
 * advertises it, and GnuPG 2.2/2.4 cannot read SEIPDv2. Passing an AES-256 session key without
 * an AEAD algorithm pins SEIPDv1 with MDC and v3 PKESK packets, whatever the keys advertise.
 */
export interface Encryptor {
  seal(block: Uint8Array, meta: BlockMetadata, date: Date): Promise<Uint8Array>;
}

/**
 * The openpgp.encrypt options every message we write uses (blocks and archives alike): a fresh
 * AES-256 session key of our own and no AEAD, which pins SEIPDv1 as explained above.
 */
export function gnupgCompatible(): { sessionKey: { data: Uint8Array; algorithm: 'aes256' }; config: { aeadProtect: false } } {
  return { sessionKey: { data: randomBytes(32), algorithm: 'aes256' }, config: { aeadProtect: false } };
}

export interface EncryptorOptions {
  readonly armoredKeys: readonly string[];
  readonly compress: 'zlib' | 'none';
  readonly armor: boolean;
}

export async function readPublicKeys(armoredKeys: readonly string[]): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const armoredKey of armoredKeys) {
    const key = await openpgp.readKey({ armoredKey });
    // openpgp.encrypt accepts a private key silently: refuse it here too, not only at generation.
    if (key.isPrivate()) throw refusal('SECRET_KEY', 'a baked recipient key is a secret key; regenerate the copy');
    keys.push(key);
  }
  return keys;
}

/** Public keys that can encrypt now; a clear error names the first that cannot. */
export async function readUsableKeys(armoredKeys: readonly string[]): Promise<openpgp.PublicKey[]> {
  const keys = await readPublicKeys(armoredKeys);
  for (const key of keys) {
    try {
      await key.getEncryptionKey();
    } catch (err) {
      throw new PipesError(
        'KEY_UNUSABLE',
        `recipient key ${key.getFingerprint().toUpperCase()} cannot encrypt now (expired, revoked or no encryption subkey): ${(err as Error).message}`,
      );
    }
  }
  return keys;
}

export async function createEncryptor(options: EncryptorOptions): Promise<Encryptor> {
  const keys = await readUsableKeys(options.armoredKeys);
  const compression = {
    preferredCompressionAlgorithm:
      options.compress === 'zlib' ? openpgp.enums.compression.zlib : openpgp.enums.compression.uncompressed,
  };
  return {
    async seal(block, meta, date) {
      const message = await openpgp.createMessage({ binary: block, filename: formatMetadata(meta), format: 'binary', date });
      const { sessionKey, config: pinned } = gnupgCompatible();
      const config = { ...pinned, ...compression };
      if (options.armor) {
        const text = await openpgp.encrypt({ message, encryptionKeys: keys, sessionKey, format: 'armored', config, date });
        return Buffer.from(text, 'utf8');
      }
      return openpgp.encrypt({ message, encryptionKeys: keys, sessionKey, format: 'binary', config, date });
    },
  };
}
