import { randomBytes } from 'node:crypto';
import type { Appender } from './appender.ts';
import { promisify } from 'node:util';
import { deflate, deflateSync } from 'node:zlib';
import { formatMetadata, type BlockMetadata } from './metadata.ts';
import type { RecipientKeys } from './recipients.ts';
import { armorParts, compressedPacketParts, literalPacket, seipdV1Parts } from './format/packets.ts';
import { MAX_BLOCKS_PER_WINDOW, SessionKeys } from './session-key.ts';
import { createSmallDeflate, type SmallDeflate } from './small-deflate.ts';

const deflateAsync = promisify(deflate);
/**
 * ZLIB level 1: on log lines it keeps ~4:1 of level 6's ~4.8:1 at well over twice the speed,
 * and speed decides whether the copy keeps up with a busy server.
 */
const ZLIB_LEVEL = 1;
/** Output chunk of the thread-pool deflate: fewer, larger hand-backs to the main thread. */
const DEFLATE_CHUNK = 256 * 1024;
/**
 * Blocks up to this size (a trickle's bursts) are deflated synchronously: about 20–60 µs for a
 * few KiB, against ~150 µs of CPU for the thread-pool round trip and a full-size stream. Larger
 * blocks go to the thread pool, so a flood compresses on several cores and the event loop stays
 * free to drain the pipe.
 *
 * They share one deflate state, reset between blocks (runtime/small-deflate.ts), with a window
 * covering the largest of them (it finds every match a 32 KiB window would; decoders accept any
 * window size) and memLevel 5: on nginx lines that compresses to the same size as level 1's
 * defaults. The state (window, hash table, buffers: under 200 KiB) is kept for the copy's life.
 */
const SYNC_DEFLATE_MAX = 16 * 1024;
const SYNC_DEFLATE_OPTIONS = { level: ZLIB_LEVEL, windowBits: Math.log2(SYNC_DEFLATE_MAX), memLevel: 5 } as const;

/**
 * Seals one block into one standalone OpenPGP message that stock `gpg --decrypt` opens.
 *
 * Always SEIPDv1 with MDC, AES-256 and v3 PKESK packets, whatever the keys advertise: openpgp.js
 * would pick SEIPDv2 (AEAD) when every recipient key advertises it, and GnuPG 2.2/2.4 cannot read
 * SEIPDv2. The recipients' key packets are made once per session-key window
 * (runtime/session-key.ts; natively in runtime/seal/session-key-packet.ts, else by openpgp.js);
 * packets.ts writes the rest.
 */
export interface Encryptor {
  seal(block: Uint8Array, meta: BlockMetadata, date: Date): Promise<Uint8Array>;
  /** Ends the session-key window: the next block gets a new key; this one is erased. */
  endKeyWindow(): void;
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
  /** How long one session key seals blocks; 0: a fresh key per block. */
  readonly sessionKeyWindowMs: number;
}

export function createEncryptor(options: EncryptorOptions): Encryptor {
  // As openpgp.js and GnuPG do: compress only when every recipient says it can decompress.
  const zlib = options.compress === 'zlib' && options.recipients.acceptZlib;
  const sessionKeys = new SessionKeys({
    windowMs: options.sessionKeyWindowMs,
    maxBlocks: MAX_BLOCKS_PER_WINDOW,
    keyPackets: (data, keyDate) => options.recipients.keyPackets(data, keyDate),
  });
  // Made at the first block (an archive-only or uncompressed copy never needs it); null: this
  // Node's zlib cannot be reused that way, so every small block gets deflateSync's fresh state.
  let small: SmallDeflate | null | undefined;
  const compress = (literal: Buffer): Buffer | Promise<Buffer> => {
    if (literal.length > SYNC_DEFLATE_MAX) return deflateAsync(literal, { level: ZLIB_LEVEL, chunkSize: DEFLATE_CHUNK });
    if (small === undefined) small = createSmallDeflate(SYNC_DEFLATE_OPTIONS);
    return small === null ? deflateSync(literal, SYNC_DEFLATE_OPTIONS) : small.deflate(literal);
  };
  return {
    async seal(block, meta, date) {
      const literal = literalPacket(block, formatMetadata(meta), date);
      // The layers stay parts until the message is written out once (packets.ts): a flood's
      // large buffers are the literal, the deflate output, the ciphertext and the message.
      const inner = zlib ? compressedPacketParts(await compress(literal)) : [literal];
      // Checked for every block, not only when a window starts, so a key that expires mid-window
      // is reported at once; the key packets already made stay valid for the window.
      const lease = await sessionKeys.lease(await options.recipients.validAt(date));
      let parts: Uint8Array[];
      try {
        parts = [lease.keyPackets, ...seipdV1Parts(lease.key, inner)];
      } finally {
        sessionKeys.release(lease.key);
      }
      return options.armor ? armorParts(parts) : Buffer.concat(parts);
    },
    endKeyWindow() {
      sessionKeys.end();
    },
  };
}

/**
 * The appender, ending the session-key window whenever the log file changes (rotation, SIGHUP
 * reopen), so a session key given out to open one file (`gpg --show-session-key`) or an archive
 * handed on opens little of another: at most the one batch the writer had already sealed ahead
 * when the switch came.
 */
export function endingKeyWindows(appender: Appender, endWindow: () => void): Appender {
  return {
    get path() {
      return appender.path;
    },
    append: (messages, options) => appender.append(messages, options),
    size: () => appender.size(),
    close: () => appender.close(),
    async reopen() {
      endWindow();
      await appender.reopen();
    },
    async moveAside(aside) {
      endWindow();
      await appender.moveAside(aside);
    },
  };
}
