import type * as openpgp from 'openpgp';
import { LogDecrypter, type Problem } from '../../runtime/decrypt/reader.ts';

/** Decrypts a log buffer in-process and collects the data blocks and the problems reported. */
export async function decryptCollect(keys: readonly openpgp.PrivateKey[], buf: Buffer): Promise<{ data: Buffer[]; problems: Problem[] }> {
  const data: Buffer[] = [];
  const problems: Problem[] = [];
  const decrypter = new LogDecrypter(keys, {
    data: (b) => void data.push(Buffer.from(b)),
    control: () => {},
    problem: (p) => void problems.push(p),
  });
  await decrypter.decryptBuffer(buf, 'log');
  return { data, problems };
}
