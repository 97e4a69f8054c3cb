import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveFormatError, openArchiveStream } from '../../../../runtime/decrypt/archive-stream.ts';
import { sessionKeyFor } from '../../../../runtime/decrypt/fast-open.ts';
import { gnupgCompatible } from '../../../../runtime/encryptor.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { decryptionKeyOf, makeKey, type TestKey } from '../../../helpers/keys.ts';

/**
 * The archive's outer layer read as a stream: as the copy writes it (openpgp.js, streamed, so
 * in partial-length packets) and as gpg writes one; damage is reported at the end, after
 * everything before it was handed on; another shape is left to the whole-file path.
 */
let key: TestKey;
beforeAll(async () => {
  key = await makeKey('archive@example.org');
});

/** The rotated log stand-in: incompressible bytes, so the archive is as large as it. */
const innerLog = randomBytes(8 * 1024 * 1024 + 12345);

/** As runtime/rotation/archive.ts makes it: gzip, then openpgp.js streaming to the key. */
async function copyArchive(inner: Buffer): Promise<Buffer> {
  const gz = Readable.toWeb(Readable.from([gzipSync(inner, { level: 1 })])) as ReadableStream<Uint8Array>;
  const message = await openpgp.createMessage({ binary: gz, format: 'binary', filename: 'x.log.gz' });
  const out = (await openpgp.encrypt({ message, encryptionKeys: key.privateKey.toPublic(), format: 'binary', ...gnupgCompatible() })) as unknown as ReadableStream<Uint8Array>;
  const parts: Buffer[] = [];
  for await (const c of Readable.fromWeb(out as never)) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

const chunksOf = (buf: Buffer, size = 100_000) => Readable.from(Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size)));
const keyOf = (packets: Buffer) => sessionKeyFor(packets, [decryptionKeyOf(key.privateKey)], undefined);

async function readAll(archive: Buffer): Promise<{ out: Buffer; error: Error | null; chunks: number }> {
  const inner = await openArchiveStream(chunksOf(archive), keyOf);
  if (inner === null) throw new Error('not taken');
  const parts: Buffer[] = [];
  try {
    for await (const c of inner) parts.push(c);
  } catch (err) {
    return { out: Buffer.concat(parts), error: err as Error, chunks: parts.length };
  }
  return { out: Buffer.concat(parts), error: null, chunks: parts.length };
}

describe('openArchiveStream', () => {
  it('gives back the rotated log of an archive the copy writes, in hand-overs of a few MiB', async () => {
    const { out, error, chunks } = await readAll(await copyArchive(innerLog));
    expect(error).toBe(null);
    expect(out.equals(innerLog)).toBe(true);
    expect(chunks).toBeGreaterThanOrEqual(3);
  });

  it('reads an archive gpg wrote (gzip | gpg --encrypt) the same way', () => {
    const gpg = new TempGpg();
    try {
      gpg.importKey(key.publicArmored);
      const archive = execFileSync('gpg', ['--batch', '--quiet', '--trust-model', 'always', '--compress-algo', 'zlib', '--recipient', key.fingerprint, '--encrypt'], { env: gpg.env, input: gzipSync(innerLog), maxBuffer: 64 << 20 });
      return readAll(archive).then(({ out, error }) => {
        expect(error).toBe(null);
        expect(out.equals(innerLog)).toBe(true);
      });
    } finally {
      gpg.dispose();
    }
  });

  it('a changed byte near the end: what came before is handed on, then the integrity check fails', async () => {
    const archive = await copyArchive(innerLog);
    archive[archive.length - 30]! ^= 0x01; // inside the gzip trailer's ciphertext, before the MDC
    const { out, error } = await readAll(archive);
    expect(error?.message).toMatch(/integrity check failed|incorrect data check|invalid/i);
    expect(out.length).toBeGreaterThan(innerLog.length / 2);
    expect(innerLog.subarray(0, out.length).equals(out)).toBe(true);
  });

  it('a cut archive ends with "cut short" after the part that was there', async () => {
    const archive = await copyArchive(innerLog);
    const { out, error } = await readAll(archive.subarray(0, Math.floor(archive.length * 0.6)));
    expect(error?.message).toMatch(/cut short/);
    expect(out.length).toBeGreaterThan(innerLog.length / 3);
    expect(innerLog.subarray(0, out.length).equals(out)).toBe(true);
  });

  it('a key that does not open it is an error; a symmetric-only message is left to openpgp.js (null)', async () => {
    const other = await makeKey('other@example.org');
    const archive = await copyArchive(innerLog.subarray(0, 1000));
    await expect(openArchiveStream(chunksOf(archive), (p) => sessionKeyFor(p, [decryptionKeyOf(other.privateKey)], undefined))).rejects.toThrow();
    const symmetric = Buffer.from(
      (await openpgp.encrypt({ message: await openpgp.createMessage({ binary: gzipSync(Buffer.from('x')) }), passwords: ['pw'], format: 'binary', config: { aeadProtect: false } })) as Uint8Array,
    );
    expect(await openArchiveStream(chunksOf(symmetric), keyOf)).toBe(null);
    expect(ArchiveFormatError).toBeDefined();
  });
});
