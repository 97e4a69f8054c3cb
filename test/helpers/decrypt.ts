import type * as openpgp from 'openpgp';
import { LogDecrypter, type Problem } from '../../runtime/decrypt/reader.ts';
import { decryptionKeyOf } from './keys.ts';

/**
 * Decrypts a log buffer in-process and collects the data blocks and the problems reported. With
 * `chunks`, the log is fed in pieces of those sizes (cycled), as a file is read.
 */
export async function decryptCollect(keys: readonly openpgp.PrivateKey[], buf: Buffer, chunks?: readonly number[]): Promise<{ data: Buffer[]; problems: Problem[] }> {
  const { decrypter, data, problems } = collecting(keys);
  if (chunks === undefined || chunks.length === 0) {
    await decrypter.decryptBuffer(buf, 'log');
  } else {
    let at = 0;
    let i = 0;
    await decrypter.decryptChunks(async () => {
      if (at >= buf.length) return null;
      const size = Math.max(1, chunks[i++ % chunks.length] as number);
      const chunk = buf.subarray(at, at + size);
      at += size;
      return Buffer.from(chunk); // a fresh buffer each time, as a file read gives
    }, 'log');
  }
  return { data, problems };
}

/**
 * The same, read as a file is: into the reader's own window, at most `maxRead` bytes a call, so
 * messages are cut at the window's end and read on.
 */
export async function decryptWindowed(keys: readonly openpgp.PrivateKey[], buf: Buffer, maxRead: number): Promise<{ data: Buffer[]; problems: Problem[] }> {
  const { decrypter, data, problems } = collecting(keys);
  let at = 0;
  await decrypter.decryptChunks(
    {
      readInto: async (target, offset) => {
        const n = buf.copy(target, offset, at, Math.min(buf.length, at + maxRead, at + target.length - offset));
        at += n;
        return n;
      },
    },
    'log',
  );
  return { data, problems };
}

/** A decrypter that keeps a copy of every data block and every problem it reports. */
function collecting(keys: readonly openpgp.PrivateKey[]): { decrypter: LogDecrypter; data: Buffer[]; problems: Problem[] } {
  const data: Buffer[] = [];
  const problems: Problem[] = [];
  const decrypter = new LogDecrypter(keys.map(decryptionKeyOf), {
    data: (b) => void data.push(Buffer.from(b)),
    control: () => {},
    problem: (p) => void problems.push(p),
  });
  return { decrypter, data, problems };
}
