import { beforeAll, describe, expect, it } from 'vitest';
import { sessionKeyStats } from '../../../runtime/decrypt/fast-open.ts';
import { decryptCollect } from '../../helpers/decrypt.ts';
import { makeKey, type TestKey, testEncryptor } from '../../helpers/keys.ts';

const streamId = 'ab'.repeat(16);

/** A log of `n` one-line blocks sealed by one encryptor, as the copy appends them. */
async function logOf(n: number, windowMs: number, endWindowEvery = 0): Promise<{ log: Buffer; text: Buffer }> {
  const enc = await testEncryptor([admin.publicArmored], 'zlib', true, windowMs);
  const lines: Buffer[] = [];
  const messages: Uint8Array[] = [];
  for (let seq = 0; seq < n; seq += 1) {
    if (endWindowEvery > 0 && seq > 0 && seq % endWindowEvery === 0) enc.endKeyWindow();
    const line = Buffer.from(`line ${seq}\n`);
    lines.push(line);
    messages.push(await enc.seal(line, { streamId, seq, kind: 'data' }, new Date()));
  }
  return { log: Buffer.concat(messages), text: Buffer.concat(lines) };
}

let admin: TestKey;
beforeAll(async () => {
  admin = await makeKey('admin@example.org');
});

describe('the decrypter opens each distinct session key once', () => {
  it('a window of blocks sharing key packets costs one private-key operation', async () => {
    const { log, text } = await logOf(40, 60_000);
    const before = sessionKeyStats.decrypted;
    const { data, problems } = await decryptCollect([admin.privateKey], log);
    expect(problems).toEqual([]);
    expect(Buffer.concat(data).equals(text)).toBe(true);
    expect(sessionKeyStats.decrypted - before).toBe(1);
  });

  it('one operation per window when windows end (rotation, reopen), and one per block with a window of 0', async () => {
    const windows = await logOf(30, 60_000, 10);
    let before = sessionKeyStats.decrypted;
    expect(Buffer.concat((await decryptCollect([admin.privateKey], windows.log)).data).equals(windows.text)).toBe(true);
    expect(sessionKeyStats.decrypted - before).toBe(3);

    const fresh = await logOf(12, 0);
    before = sessionKeyStats.decrypted;
    expect(Buffer.concat((await decryptCollect([admin.privateKey], fresh.log)).data).equals(fresh.text)).toBe(true);
    expect(sessionKeyStats.decrypted - before).toBe(12);
  });

  it('a damaged block of a window is reported alone; its neighbours with the same key still open', async () => {
    const { log } = await logOf(5, 60_000);
    const armored = log.toString('latin1').split(/(?<=-----END PGP MESSAGE-----\n)/);
    // Flip a base64 character in the body of the third message (not its key packets).
    const third = armored[2] as string;
    const at = third.length - 60;
    armored[2] = third.slice(0, at) + (third[at] === 'A' ? 'B' : 'A') + third.slice(at + 1);
    const { data, problems } = await decryptCollect([admin.privateKey], Buffer.from(armored.join(''), 'latin1'));
    expect(Buffer.concat(data).toString()).toBe('line 0\nline 1\nline 3\nline 4\n');
    expect(problems.map((p) => p.kind)).toEqual(['undecryptable', 'missing-blocks']);
  });
});
