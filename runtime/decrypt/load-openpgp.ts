import type * as Openpgp from 'openpgp';

/**
 * openpgp.js, imported at its first use. Loading it costs about as much CPU as decrypting a small
 * log (40–50 ms), and the decrypter needs it only for keys and messages of shapes it does not
 * read natively: a key of another algorithm, a message gpg wrote, an archive of another shape.
 */
let loading: Promise<typeof Openpgp> | null = null;

export function loadOpenpgp(): Promise<typeof Openpgp> {
  return (loading ??= import('openpgp'));
}
