import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { nextPiece, type Piece } from '../../../../runtime/format/split.ts';
import { decryptCollect } from '../../../helpers/decrypt.ts';
import { TempGpg } from '../../../helpers/gpg.ts';
import { makeKey, type TestKey, testEncryptor } from '../../../helpers/keys.ts';

function pieces(buf: Buffer): Piece[] {
  const out: Piece[] = [];
  for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) out.push(p);
  return out;
}

const streamId = 'ab'.repeat(16);
let key: TestKey;

async function decryptOne(m: Buffer, armor: boolean): Promise<Buffer> {
  const message = armor ? await openpgp.readMessage({ armoredMessage: m.toString() }) : await openpgp.readMessage({ binaryMessage: m });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: key.privateKey, format: 'binary' });
  return Buffer.from(data as Uint8Array);
}

async function messages(armor: boolean, n: number): Promise<Buffer[]> {
  const enc = await testEncryptor([key.publicArmored], 'zlib', armor);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i += 1) out.push(Buffer.from(await enc.seal(randomBytes(50 + i * 300), { streamId, seq: i, kind: 'data' }, new Date())));
  return out;
}

describe('splitter', () => {
  beforeAll(async () => {
    key = await makeKey('split@example.org');
  });

  for (const armor of [true, false]) {
    const label = armor ? 'armored' : 'binary';

    it(`finds every ${label} message of an appended file at its offset`, async () => {
      const msgs = await messages(armor, 6);
      const found = pieces(Buffer.concat(msgs));
      expect(found.every((p) => p.kind === 'message')).toBe(true);
      let offset = 0;
      found.forEach((p, i) => {
        expect(p.offset).toBe(offset);
        expect(p.end - p.offset).toBe(armor ? msgs[i]!.toString().trimEnd().length : msgs[i]!.length);
        offset += msgs[i]!.length;
      });
    });

    it(`recovers the messages around a ${label} message cut at any point, and reports the cut`, async () => {
      const msgs = await messages(armor, 3);
      const plain = await Promise.all(msgs.map(async (m) => decryptOne(m, armor)));
      const second = msgs[1]!;
      for (const cut of [1, 5, Math.floor(second.length / 2), second.length - 2, second.length - 1]) {
        // A binary message says its own length: cut short by k bytes, it takes the first k bytes of
        // the next one. When those happen to be the bytes cut off (1 run in 256 for the last byte,
        // which is random), nothing was lost that anyone could tell: not a cut, skipped.
        if (!armor && second.subarray(cut).equals(msgs[2]!.subarray(0, second.length - cut))) continue;
        const buf = Buffer.concat([msgs[0]!, second.subarray(0, cut), msgs[2]!]);
        const { data: got, problems } = await decryptCollect([key.privateKey], buf);
        expect(got, `cut at ${cut}`).toEqual([plain[0], plain[2]]);
        expect(problems.length, `cut at ${cut}`).toBeGreaterThan(0);
        expect(problems[0]!.offset, `cut at ${cut}`).toBe(msgs[0]!.length);
        expect(problems.every((p) => p.kind !== 'undecryptable' || p.offset < msgs[0]!.length + cut)).toBe(true);
      }
    });
  }

  it('reports garbage between messages with its offset and length', async () => {
    const msgs = await messages(true, 2);
    const junk = Buffer.from('this is not a message\n');
    const found = pieces(Buffer.concat([msgs[0]!, junk, msgs[1]!]));
    expect(found.map((p) => p.kind)).toEqual(['message', 'garbage', 'message']);
    expect(found[1]!.offset).toBe(msgs[0]!.length);
  });

  it('splits messages written by real gpg (old-format packet headers)', async () => {
    const gpg = new TempGpg();
    try {
      gpg.importKey(key.publicArmored);
      const one = gpg.run(['--trust-model', 'always', '--encrypt', '--recipient', key.fingerprint], 'first\n');
      const two = gpg.run(['--trust-model', 'always', '--encrypt', '--recipient', key.fingerprint], 'second\n');
      const found = pieces(Buffer.concat([one, two]));
      expect(found.map((p) => [p.kind, p.offset])).toEqual([['message', 0], ['message', one.length]]);
      const msg = await openpgp.readMessage({ binaryMessage: two });
      const { data } = await openpgp.decrypt({ message: msg, decryptionKeys: key.privateKey });
      expect(data).toBe('second\n');
    } finally {
      gpg.dispose();
    }
  });
});
