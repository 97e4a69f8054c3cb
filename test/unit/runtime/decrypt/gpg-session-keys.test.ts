import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpgSessionKeys } from '../../../../runtime/decrypt/gpg-session-keys.ts';
import { LogDecrypter } from '../../../../runtime/decrypt/reader.ts';
import { readPacket } from '../../../../runtime/decrypt/split.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { makeKey, testEncryptor, type TestKey } from '../../../helpers/keys.ts';

/** Session keys through a real gpg (a temp GNUPGHOME): batched calls, one per distinct key. */
let key: TestKey;
let other: TestKey;
const gpg = new TempGpg();

beforeAll(async () => {
  key = await makeKey('gpg-unit@example.org');
  other = await makeKey('not-in-keyring@example.org');
  gpg.importKey(key.privateArmored);
});
afterAll(() => gpg.dispose());

const seal = async (recipient: TestKey, text: string, seq: number) =>
  Buffer.from(await (await testEncryptor([recipient.publicArmored], 'zlib', false)).seal(Buffer.from(text), { streamId: 'ef'.repeat(16), seq, kind: 'data' }, new Date()));
const keyPackets = (msg: Buffer) => msg.subarray(0, (readPacket(msg, 0) as { end: number }).end);

describe('gpgSessionKeys', () => {
  it('asks gpg once for keys requested together, once per distinct key packet, null for a key it lacks', async () => {
    const { sessionKeyOf, stats } = gpgSessionKeys({ env: gpg.env });
    const msgs = await Promise.all([0, 1, 2].map((i) => seal(key, `m${i}\n`, i)));
    const foreign = await seal(other, 'x\n', 3);
    const asked = [...msgs, msgs[0]!, foreign].map((m) => sessionKeyOf(keyPackets(m)));
    const keys = await Promise.all(asked);
    expect(stats.calls).toBeLessThanOrEqual(2); // the batch, and each one alone if gpg stopped at the foreign one
    expect(stats.keys).toBe(4);
    expect(keys.slice(0, 3).every((k) => k?.algorithm === 'aes256' && k.data.length === 32)).toBe(true);
    expect(keys[3]).toBe(keys[0]);
    expect(keys[4]).toBe(null);
  });

  it('answers requests made one after another, each as the last call ends', async () => {
    const { sessionKeyOf, stats } = gpgSessionKeys({ env: gpg.env });
    const msgs = await Promise.all([0, 1, 2, 3].map((i) => seal(key, `s${i}\n`, i)));
    for (const m of msgs) expect(await sessionKeyOf(keyPackets(m))).not.toBe(null);
    expect(stats.calls).toBe(4);
  });

  it('opens blocks through the reader with no private key in the process', async () => {
    const { sessionKeyOf } = gpgSessionKeys({ env: gpg.env });
    const got: string[] = [];
    const problems: string[] = [];
    const decrypter = new LogDecrypter([], { data: (b) => void got.push(Buffer.from(b).toString()), control: () => {}, problem: (p) => void problems.push(p.kind) }, sessionKeyOf);
    const blocks = await Promise.all([0, 1, 2, 3, 4].map((i) => seal(key, `line ${i}\n`, i)));
    await decrypter.decryptBuffer(Buffer.concat([...blocks, await seal(other, 'nope\n', 5)]), 'log');
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => `line ${i}\n`));
    expect(problems).toEqual(['undecryptable']);
  });
});
