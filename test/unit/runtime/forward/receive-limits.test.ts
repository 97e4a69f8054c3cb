import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receive, RECEIVE_LIMITS } from '../../../../runtime/receive/receive.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-receive-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('receive: bytes that never become a message', () => {
  it('ends the connection once more than a message can hold is pending, instead of buffering without end', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x41); // no message can start in it
    const limitChunks = Math.ceil(RECEIVE_LIMITS.maxPendingBytes / chunk.length);
    let taken = 0;
    async function* sender() {
      // A sender with a stolen key could go on for ever; this one stops at twice the limit.
      for (; taken < limitChunks * 2; ) {
        taken += 1;
        yield chunk;
      }
    }
    const err: string[] = [];
    const out: string[] = [];
    const output = join(dir, 'www.log.asc');
    const r = await receive(output, 0o640, { stdin: sender(), out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(taken).toBeLessThanOrEqual(limitChunks + 1);
    expect(r.received).toBe(0);
    expect(r.refusedBytes).toBeGreaterThan(RECEIVE_LIMITS.maxPendingBytes);
    expect(err.join('')).toMatch(/refused \d+ bytes that hold no whole OpenPGP message .*ending the connection/);
    expect(readFileSync(output).length).toBe(0);
  }, 60_000);
});

/** An armored message as the splitter sees one: BEGIN line, base64 lines, END line. */
function armored(bodyBytes: number, seed: number): Buffer {
  const body = Buffer.alloc(bodyBytes, seed).toString('base64').replace(/.{1,64}/g, '$&\n');
  return Buffer.from(`-----BEGIN PGP MESSAGE-----\n\n${body}=AAAA\n-----END PGP MESSAGE-----\n`);
}

/** Cuts `data` into chunks of the given sizes, cycled. */
function* cut(data: Buffer, sizes: readonly number[]): Generator<Buffer> {
  let i = 0;
  for (let at = 0; at < data.length; ) {
    const n = sizes[i++ % sizes.length] as number;
    yield Buffer.from(data.subarray(at, at + n));
    at += n;
  }
}

async function receiveAll(name: string, chunks: Iterable<Buffer>): Promise<{ r: Awaited<ReturnType<typeof receive>>; out: string[]; err: string; written: Buffer }> {
  const out: string[] = [];
  const err: string[] = [];
  const output = join(dir, name);
  async function* sender() {
    yield* chunks;
  }
  const r = await receive(output, 0o640, { stdin: sender(), out: (t) => out.push(t), err: (t) => err.push(t) });
  return { r, out, err: err.join(''), written: readFileSync(output) };
}

describe('receive: a large armored message in many chunks', () => {
  it('takes it once its END line arrives, however the chunks cut that line, and acknowledges in order', async () => {
    const a = armored(300_000, 1);
    const b = armored(50_000, 2);
    // Chunk sizes that cut the END line and the BEGIN line of the next message at many places.
    for (const sizes of [[65_536], [1], [7, 3], [4093, 5, 2]]) {
      const { r, out, written } = await receiveAll(`chunks-${sizes.join('-')}.asc`, cut(Buffer.concat([a, b]), sizes));
      expect(r).toMatchObject({ received: 2, appended: 2, refusedBytes: 0, tornBytes: 0 });
      expect(written.equals(Buffer.concat([a, b]))).toBe(true);
      expect(out.filter((l) => l.startsWith('ok'))).toEqual(out.some((l) => l === 'ok 1\n') ? ['ok 1\n', 'ok 2\n'] : ['ok 2\n']);
    }
  }, 60_000);

  it('refuses a torn armored message once the next one begins, and takes that one', async () => {
    const torn = armored(200_000, 3).subarray(0, 150_000);
    const next = armored(20_000, 4);
    const { r, err, written } = await receiveAll('torn-then-next.asc', cut(Buffer.concat([torn, next]), [65_536, 999]));
    expect(r).toMatchObject({ received: 1, appended: 1, refusedBytes: torn.length, tornBytes: 0 });
    expect(err).toMatch(/refused 150000 bytes .*without its END line/);
    expect(written.equals(next)).toBe(true);
  }, 60_000);
});
