import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { nextPiece } from '../../../runtime/format/split.ts';
import { packetHeader } from '../../../runtime/format/packets.ts';
import { decryptCollect } from '../../helpers/decrypt.ts';
import { makeKey, type TestKey, testEncryptor } from '../../helpers/keys.ts';

/**
 * The decrypter reads files an attacker may have touched: whatever the bytes, it must end,
 * never throw, report problems inside the input, and still read every message it was not
 * given reason to doubt.
 */
let key: TestKey;
const logs: Record<'armored' | 'binary', { buf: Buffer; ends: number[]; plain: Buffer[] }> = {} as never;

const decryptAll = (buf: Buffer, chunks?: readonly number[]) => decryptCollect([key.privateKey], buf, chunks);

function splitsCleanly(buf: Buffer): void {
  let pos = 0;
  for (let p = nextPiece(buf, pos); p !== null; p = nextPiece(buf, pos)) {
    expect(p.offset).toBeGreaterThanOrEqual(pos);
    expect(p.end).toBeGreaterThan(p.offset); // progress: no endless loop
    expect(p.end).toBeLessThanOrEqual(buf.length);
    pos = p.end;
  }
}

beforeAll(async () => {
  key = await makeKey('fuzz@example.org');
  for (const armor of [true, false]) {
    const enc = await testEncryptor([key.publicArmored], 'zlib', armor);
    const plain = Array.from({ length: 5 }, (_, i) => randomBytes(20 + i * 97));
    const msgs = await Promise.all(plain.map(async (p, i) => Buffer.from(await enc.seal(p, { streamId: 'cd'.repeat(16), seq: i, kind: 'data' }, new Date()))));
    let at = 0;
    const ends = msgs.map((m) => (at += m.length));
    logs[armor ? 'armored' : 'binary'] = { buf: Buffer.concat(msgs), ends, plain };
  }
});

describe('decrypter under random and damaged input', () => {
  it('random bytes: splits with progress and stays inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), (bytes, withHeader) => {
        // Bias half the cases towards what looks like a message start.
        const buf = Buffer.from(withHeader ? Buffer.concat([Buffer.from([0xc1, bytes.length & 0xff, 3]), bytes]) : bytes);
        splitsCleanly(buf);
      }),
      { numRuns: 400 },
    );
  });

  for (const kind of ['armored', 'binary'] as const) {
    it(`${kind}: read in chunks of any sizes, clean or damaged, it gives the same data and problems as read whole`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 6 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }),
          fc.nat(),
          async (chunks, flips, cutAt) => {
            const damaged = Buffer.from(logs[kind].buf);
            for (const [at, xor] of flips) damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ xor;
            const input = damaged.subarray(0, damaged.length - (cutAt % 50));
            const whole = await decryptAll(input);
            const chunked = await decryptAll(input, chunks);
            expect(chunked.data).toEqual(whole.data);
            expect(chunked.problems).toEqual(whole.problems);
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it('binary: a message cut by the read window is not judged torn at a false start inside its ciphertext', async () => {
    // Ciphertext is arbitrary bytes and may hold what parses as a message start. Plant one: a
    // message whose encrypted packet carries a whole other message in its body, then cut the
    // input inside it, after the planted one. Read whole, the host is undecryptable.
    const enc = await testEncryptor([key.publicArmored], 'zlib', false);
    const seal = async (i: number) => Buffer.from(await enc.seal(Buffer.from(`block ${i}\n`), { streamId: 'ef'.repeat(16), seq: i, kind: 'data' }, new Date()));
    const [first, planted, last] = await Promise.all([seal(0), seal(1), seal(2)]);
    const keyPacket = first.subarray(0, 2 + (first[1] as number)); // new-format, one-octet length
    const body = Buffer.concat([Buffer.from([1]), planted, Buffer.alloc(100_000)]); // zeros: never a message start
    const host = Buffer.concat([keyPacket, packetHeader(18, body.length), body]);
    const log = Buffer.concat([first, host, last]);
    const whole = await decryptAll(log);
    expect(whole.problems.map((p) => p.kind)).toEqual(['undecryptable', 'garbage']); // then the planted one is found inside
    const cut = first.length + keyPacket.length + 6 + planted.length + 1000;
    const chunked = await decryptAll(log, [cut, 50_000]);
    expect(chunked.problems).toEqual(whole.problems);
    expect(chunked.data).toEqual(whole.data);
  });

  for (const kind of ['armored', 'binary'] as const) {
    it(`${kind}: any truncation keeps every whole message before the cut and reports the rest`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), async (n) => {
          const { buf, ends, plain } = logs[kind];
          const cut = n % (buf.length + 1);
          const { data, problems } = await decryptAll(buf.subarray(0, cut));
          const whole = ends.filter((e) => e <= cut).length;
          expect(data.slice(0, whole)).toEqual(plain.slice(0, whole));
          for (const p of problems) expect(p.offset + p.length).toBeLessThanOrEqual(cut);
        }),
        { numRuns: 60 },
      );
    });

    it(`${kind}: flipped bytes never crash it; messages before the first damage still decrypt`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), async (flips) => {
          const { buf, ends, plain } = logs[kind];
          const damaged = Buffer.from(buf);
          let first = damaged.length;
          for (const [at, xor] of flips) {
            const i = at % damaged.length;
            damaged[i] = (damaged[i] as number) ^ xor;
            first = Math.min(first, i);
          }
          const { data } = await decryptAll(damaged);
          const intact = ends.filter((e) => e <= first).length;
          // Armor ignores some edits (white space); binary can resync into a later message: only
          // the messages wholly before the first flipped byte are certain.
          expect(data.slice(0, intact)).toEqual(plain.slice(0, intact));
        }),
        { numRuns: 60 },
      );
    });
  }
});
