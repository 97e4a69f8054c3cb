import { createHash } from 'node:crypto';
import { constants, createReadStream, promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BakedPath } from '../baked.ts';
import { writeAll } from '../appender.ts';
import { gnupgCompatible } from '../encryptor.ts';
import type { RecipientKeys } from '../recipients.ts';
import { errnoCode } from '../errors.ts';
import { assertSafeDirectory } from '../paths.ts';

export interface ArchiveInfo {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * gzip → OpenPGP (SEIPDv1, AES-256, to the rotation keys) as one stream: the rotated log is
 * already ciphertext, and no plaintext exists at any step. `gpg -d archive | gunzip` gives back
 * the rotated log.
 */
async function encryptedGzipStream(source: string, recipients: RecipientKeys): Promise<ReadableStream<Uint8Array>> {
  const date = await recipients.validAt(new Date());
  // Loaded at start with the archive keys (runtime/copy.ts), so this never loads it first.
  const openpgp = await import('openpgp');
  const encryptionKeys = [...(await recipients.openpgpKeys())];
  const gz = createReadStream(source).pipe(createGzip());
  const message = await openpgp.createMessage({ binary: Readable.toWeb(gz) as ReadableStream<Uint8Array>, format: 'binary', filename: `${basename(source).replace(/\.aside$/, '')}.gz` });
  return openpgp.encrypt({ message, encryptionKeys, format: 'binary', date, ...gnupgCompatible() }) as Promise<ReadableStream<Uint8Array>>;
}

function hashing(hash: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/**
 * Writes the archive through a temp name in the archive dir (mode and owner set on the
 * descriptor before the first byte), fsyncs it, renames it into place and fsyncs the directory:
 * the final name only ever holds a complete archive.
 */
export async function writeArchive(source: string, target: string, keys: RecipientKeys, archive: BakedPath): Promise<ArchiveInfo> {
  assertSafeDirectory(target, 'archive');
  const temp = join(dirname(target), `.${basename(target)}.tmp`);
  await fsp.unlink(temp).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err; // a temp left by a run killed mid-write
  });
  const handle = await fsp.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, archive.mode);
  const hash = createHash('sha256');
  const count = { bytes: 0 };
  try {
    await handle.chown(archive.owner.uid, archive.owner.gid);
    await handle.chmod(archive.mode);
    const encrypted = await encryptedGzipStream(source, keys);
    // Not handle.createWriteStream({ autoClose: false }): pipeline() waits for a 'close' that
    // such a stream never emits. The handle stays ours, to fsync and close.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        writeAll(handle, chunk).then(() => done(), done);
      },
    });
    await pipeline(Readable.fromWeb(encrypted as never), hashing(hash, count), sink);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fsp.unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  await fsp.rename(temp, target);
  const dir = await fsp.open(dirname(target), constants.O_RDONLY);
  await dir.sync().finally(() => dir.close());
  return { bytes: count.bytes, sha256: hash.digest('hex') };
}

/** The same archive in memory, for an e-mail when no archive dir is kept (bounded by the rotate size). */
export async function archiveInMemory(source: string, keys: RecipientKeys): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(Readable.fromWeb((await encryptedGzipStream(source, keys)) as never), sink);
  return Buffer.concat(chunks);
}
