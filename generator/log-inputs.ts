import { promises as fsp } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import * as openpgp from 'openpgp';
import type { LogDecrypter } from '../runtime/decrypt/reader.ts';
import { errnoCode, PipesError, usageError } from '../runtime/errors.ts';
import { compareRotation, rotationIdOf } from '../runtime/rotation/names.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';

/** What `decrypt` and `verify` share: secret keys, the inputs in stream order, and reading them. */

const gunzipAsync = promisify(gunzip);

/** Every input into the decrypter, in order (standard input when none); archives opened whole. */
export async function feedInputs(decrypter: LogDecrypter, inputs: readonly string[], archiveKeys: readonly openpgp.PrivateKey[], stdin: () => Promise<Buffer>): Promise<void> {
  if (inputs.length === 0) await decrypter.decryptBuffer(await stdin(), '<stdin>');
  for (const file of inputs) {
    const unreadable = (err: unknown) => new PipesError('INPUT_UNREADABLE', `cannot read ${JSON.stringify(file)}: ${errnoCode(err) ?? String(err)}`);
    if (!isArchive(file)) {
      // Logs grow without bound (no rotation, or a big one): read them chunk by chunk.
      const handle = await fsp.open(file, 'r').catch((err: unknown) => {
        throw unreadable(err);
      });
      try {
        await decrypter.decryptChunks(() => readChunk(handle).catch((err: unknown) => Promise.reject(unreadable(err))), file);
      } finally {
        await handle.close();
      }
      continue;
    }
    // An archive is one rotated log, as big as --rotate-size: opened whole.
    const buf = await readFile(file).catch((err: unknown) => {
      throw unreadable(err);
    });
    const inner = await openArchive(buf, archiveKeys).catch((err: unknown) => err as Error);
    if (inner instanceof Error) {
      decrypter.reportProblem({ source: file, offset: 0, length: buf.length, kind: 'undecryptable', detail: `archive: ${inner.message}` });
      continue;
    }
    await decrypter.decryptBuffer(inner, `${file} (inside)`);
  }
}

const ARCHIVE_SUFFIX = '.gz.gpg';
const isArchive = (file: string) => file.endsWith(ARCHIVE_SUFFIX);

/**
 * Archives of --archive-dir plus the files named, in stream order: everything named like a
 * rotation (<log>.<UTC stamp>.<n>[.gz.gpg|.aside]) sorted by stamp and counter, then the rest (the
 * live log) in the order given.
 */
export async function orderInputs(files: readonly string[], archiveDir: string | undefined): Promise<string[]> {
  const all = [...files];
  if (archiveDir !== undefined) {
    const names = await readdir(archiveDir).catch((err: unknown) => {
      throw usageError('ARCHIVE_DIR_UNREADABLE', `--archive-dir ${JSON.stringify(archiveDir)}: ${errnoCode(err) ?? String(err)}`);
    });
    all.push(...names.filter((n) => isArchive(n) && !n.startsWith('.')).map((n) => join(archiveDir, n)));
  }
  const rotated = all.filter((f) => rotationIdOf(f) !== null).sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
  return [...new Set([...rotated, ...all.filter((f) => rotationIdOf(f) === null)])];
}

/** Outer layer (rotation key), then gunzip: the rotated log as it was on the server. */
async function openArchive(buf: Buffer, keys: readonly openpgp.PrivateKey[]): Promise<Buffer> {
  const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(buf) });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: [...keys], format: 'binary' });
  return gunzipAsync(data as Uint8Array);
}

/** One passphrase for every protected key, read at most once, and only if a key needs it. */
export function passphraseOnce(options: PassphraseSource, env: NodeJS.ProcessEnv): (fingerprint: string) => Promise<string | null> {
  let cached: Promise<string | null> | null = null;
  return (fingerprint) => (cached ??= readPassphrase(options, `Passphrase for ${fingerprint}: `, env));
}

export async function loadSecretKeys(files: readonly string[], option: string, passphrase: (fingerprint: string) => Promise<string | null>): Promise<openpgp.PrivateKey[]> {
  const keys: openpgp.PrivateKey[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw usageError('KEY_FILE_UNREADABLE', `${option} ${JSON.stringify(file)}: cannot read: ${errnoCode(err) ?? String(err)}`);
    });
    const key = await openpgp.readPrivateKey({ armoredKey: text }).catch((err: unknown) => {
      throw usageError('KEY_UNREADABLE', `${option} ${JSON.stringify(file)}: not an armored OpenPGP secret key (${(err as Error).message})`);
    });
    if (key.isDecrypted()) {
      keys.push(key);
      continue;
    }
    const secret = await passphrase(key.getFingerprint().toUpperCase());
    if (secret === null) {
      throw usageError('PASSPHRASE_NEEDED', `${option} ${JSON.stringify(file)} is passphrase-protected: give --passphrase-file, --passphrase-fd or --passphrase-env, or run on a terminal`);
    }
    keys.push(
      await openpgp.decryptKey({ privateKey: key, passphrase: secret }).catch(() => {
        throw usageError('BAD_PASSPHRASE', `${option} ${JSON.stringify(file)}: wrong passphrase`);
      }),
    );
  }
  return keys;
}

/** Input is read this much at a time: large enough to hold many blocks, small next to any RAM. */
const READ_CHUNK = 16 * 1024 * 1024;

async function readChunk(handle: fsp.FileHandle): Promise<Buffer | null> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK, null);
  return bytesRead === 0 ? null : chunk.subarray(0, bytesRead);
}
