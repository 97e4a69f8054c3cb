import type * as openpgp from 'openpgp';
import { dearmor } from '../format/packets.ts';
import { openOwnArmored, openOwnShape, type Opened, type SessionKeyOf } from './fast-open.ts';
import { keyOptionsFor, type DecryptionKey } from './decryption-keys.ts';
import { loadOpenpgp } from './load-openpgp.ts';

/**
 * Opens one message of a log: the copy's own blocks on the native path (fast-open.ts: large
 * armored ones decoded and opened on a worker thread), anything else (gpg's output, say) with
 * openpgp.js, which reads every shape and is loaded only then. Throws when the message cannot
 * be opened.
 */
export async function openMessage(bytes: Buffer, armored: boolean, keys: readonly DecryptionKey[], sessionKeyOf: SessionKeyOf | undefined): Promise<Opened> {
  // Our own blocks take the native path; anything else (gpg's output, say) goes to openpgp.js.
  const offloaded = armored ? await openOwnArmored(bytes, keys, sessionKeyOf) : null;
  if (offloaded !== null) return offloaded;
  const binary = armored ? dearmor(bytes) : bytes;
  const fast = binary === null ? null : await openOwnShape(binary, keys, sessionKeyOf);
  if (fast !== null) return fast;
  const pgp = await loadOpenpgp();
  const message = armored
    ? await pgp.readMessage({ armoredMessage: bytes.toString('latin1') })
    : await pgp.readMessage({ binaryMessage: new Uint8Array(bytes) });
  // Message.decrypt rather than openpgp.decrypt: the literal packet's date is wanted too.
  const decrypted = (await decryptWith(message, await keyOptionsFor(message, keys, sessionKeyOf))) as unknown as { unwrapCompressed(): { packets: openpgp.PacketList<openpgp.AnyPacket> } };
  const literal = decrypted.unwrapCompressed().packets.findPacket(pgp.enums.packet.literalData) as unknown as LiteralFields | undefined;
  if (literal === undefined) throw new Error('no literal data in the message');
  const data = literal.getBytes();
  if (!(data instanceof Uint8Array)) throw new Error('a streamed literal packet was not expected');
  const filename = literal.getFilename();
  return { data, filename: filename === '' ? null : filename, date: literal.date instanceof Date ? literal.date : null };
}

/** What openpgp.js's literal packet holds, which its typings keep private. */
interface LiteralFields {
  getBytes(): Uint8Array | ReadableStream<Uint8Array> | null;
  getFilename(): string;
  readonly date?: Date;
}

/** Message.decrypt with the private keys, or with a session key GnuPG gave (`--gpg`). */
function decryptWith(message: openpgp.Message<Uint8Array | string>, options: Awaited<ReturnType<typeof keyOptionsFor>>): Promise<openpgp.Message<unknown>> {
  return 'sessionKeys' in options ? message.decrypt(undefined, undefined, [options.sessionKeys]) : message.decrypt(options.decryptionKeys);
}
