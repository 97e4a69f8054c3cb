import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import * as openpgp from 'openpgp';
import { PipesError, refusal } from './errors.ts';
import { formatMetadata, type BlockMetadata } from './metadata.ts';
import { armorMessage, compressedPacket, literalPacket, seipdV1Packet } from './packets.ts';

const deflateAsync = promisify(deflate);
/**
 * ZLIB level 1: on log lines it keeps ~4:1 of level 6's ~4.8:1 at well over twice the speed,
 * and speed decides whether the copy keeps up with a busy server.
 */
const ZLIB_LEVEL = 1;
/** Output chunk of the thread-pool deflate: fewer, larger hand-backs to the main thread. */
const DEFLATE_CHUNK = 256 * 1024;

/**
 * Seals one block into one standalone OpenPGP message that stock `gpg --decrypt` opens.
 *
 * Always SEIPDv1 with MDC, AES-256 and v3 PKESK packets, whatever the keys advertise: openpgp.js
 * would pick SEIPDv2 (AEAD) when every recipient key advertises it, and GnuPG 2.2/2.4 cannot read
 * SEIPDv2. openpgp.js encrypts the session key to each recipient; packets.ts writes the rest.
 */
export interface Encryptor {
  seal(block: Uint8Array, meta: BlockMetadata, date: Date): Promise<Uint8Array>;
}

/**
 * The openpgp.encrypt options for archives, which openpgp.js streams whole: a fresh AES-256
 * session key of our own and no AEAD pin SEIPDv1 and v3 PKESK, as for the blocks.
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
  return {
    async seal(block, meta, date) {
      const sessionKey = randomBytes(32);
      const keyPackets = await openpgp.encryptSessionKey({
        data: sessionKey,
        algorithm: 'aes256',
        encryptionKeys: keys,
        format: 'binary',
        date,
        config: { aeadProtect: false },
      });
      const literal = literalPacket(block, formatMetadata(meta), date);
      const inner = options.compress === 'zlib' ? compressedPacket(await deflateAsync(literal, { level: ZLIB_LEVEL, chunkSize: DEFLATE_CHUNK })) : literal;
      const binary = Buffer.concat([keyPackets, seipdV1Packet(sessionKey, inner)]);
      return options.armor ? armorMessage(binary) : binary;
    },
  };
}
