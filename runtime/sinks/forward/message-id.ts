import { createHash } from 'node:crypto';

/**
 * The id of an encrypted message for de-duplication on the far side: SHA-256 of its bytes
 * (armored text from BEGIN to END line, or the binary packets). Every message carries a fresh
 * random session key, so two messages never share an id, while a message sent again after a
 * reconnect has the same one. The (stream, sequence) pair would do too, but it is inside the
 * encryption, and the forwarder holds no key.
 */
export function messageId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
