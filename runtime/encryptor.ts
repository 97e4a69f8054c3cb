import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import * as openpgp from 'openpgp';
import { formatMetadata, type BlockMetadata } from './metadata.ts';
import type { RecipientKeys } from './recipients.ts';
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
  readonly recipients: RecipientKeys;
  readonly compress: 'zlib' | 'none';
  readonly armor: boolean;
}

export function createEncryptor(options: EncryptorOptions): Encryptor {
  const { keys } = options.recipients;
  // As openpgp.js and GnuPG do: compress only when every recipient says it can decompress.
  const zlib = options.compress === 'zlib' && options.recipients.acceptZlib;
  return {
    async seal(block, meta, date) {
      const sessionKey = randomBytes(32);
      const keyPackets = await openpgp.encryptSessionKey({
        data: sessionKey,
        algorithm: 'aes256',
        encryptionKeys: [...keys],
        format: 'binary',
        date: await options.recipients.validAt(date),
        config: { aeadProtect: false },
      });
      const literal = literalPacket(block, formatMetadata(meta), date);
      const inner = zlib ? compressedPacket(await deflateAsync(literal, { level: ZLIB_LEVEL, chunkSize: DEFLATE_CHUNK })) : literal;
      const binary = Buffer.concat([keyPackets, seipdV1Packet(sessionKey, inner)]);
      return options.armor ? armorMessage(binary) : binary;
    },
  };
}
