// Sealing's cost in the copy's own write path, measured in one process: the real BlockWriter and
// encryptor (zlib, AES-256, one cv25519 recipient) sealing the same nginx lines with and without
// the seal chain, alternating runs, into an in-memory appender. No disk in the loop, so sealing's
// share is as large as it can get; in the copy, fdatasync and the pipe add time to both sides.
import * as openpgp from 'openpgp';
import type { Appender } from '../runtime/appender.ts';
import { createEncryptor } from '../runtime/encryptor.ts';
import { createLogger } from '../runtime/log.ts';
import { loadRecipientKeys } from '../runtime/recipients.ts';
import { newSealKey, SealChain, sealTag } from '../runtime/seal/chain.ts';
import { BlockWriter } from '../runtime/writer.ts';
// @ts-expect-error: a plain .mjs module of the bench, without types
import { nginxLine, random } from './nginx-lines.mjs';

const LIMITS = { maxBlockBytes: 1024 * 1024, maxBatchBytes: 2 * 1024 * 1024, retryMinMs: 100, retryMaxMs: 5000 };

function nullAppender(): Appender {
  return { path: '/dev/null', append: async () => {}, reopen: async () => {}, moveAside: async () => {}, size: async () => 0, close: async () => {} };
}

function lines(bytes: number): Buffer[] {
  const rnd = random(0x2545f491);
  const out: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i += 1) {
    const line = Buffer.from(nginxLine(i, rnd) as string);
    out.push(line);
    total += line.length;
  }
  return out;
}

async function once(blocks: readonly Buffer[], sealed: boolean, encryptor: ReturnType<typeof createEncryptor>, trickle: boolean): Promise<number> {
  const streamId = 'ab'.repeat(16);
  const writer = new BlockWriter({
    encryptor,
    appender: nullAppender(),
    streamId,
    limits: LIMITS,
    log: createLogger('error', () => {}),
    ...(sealed ? { chain: new SealChain(streamId, newSealKey()) } : {}),
  });
  const start = process.hrtime.bigint();
  for (const block of blocks) {
    writer.enqueueData(block);
    // A trickle: each block sealed on its own, as a quiet server's lines are.
    if (trickle) await writer.idle();
  }
  await writer.idle();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * A fresh session key per block, as when the seal cost was first measured: sealing's share is then
 * compared with the full per-block cost (with the default 60 s window it is a larger share of less).
 */
const SESSION_KEY_WINDOW_MS = 0;

export async function run(options: { mb: number; rounds: number; blockBytes: number; trickle: boolean }): Promise<Record<string, number>> {
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'bench@example.org' }], format: 'armored', config: { aeadProtect: false } } as Parameters<typeof openpgp.generateKey>[0] & { format: 'armored' });
  const encryptor = createEncryptor({ recipients: await loadRecipientKeys([publicKey], new Date()), compress: 'zlib', armor: true, sessionKeyWindowMs: SESSION_KEY_WINDOW_MS });
  // Blocks as the framer hands them over: whole lines, up to `blockBytes`.
  const blocks: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  for (const line of lines(options.mb * 1024 * 1024)) {
    if (size + line.length > options.blockBytes && parts.length > 0) {
      blocks.push(Buffer.concat(parts));
      parts = [];
      size = 0;
    }
    parts.push(line);
    size += line.length;
  }
  if (parts.length > 0) blocks.push(Buffer.concat(parts));
  const bytes = blocks.reduce((n, b) => n + b.length, 0);
  await once(blocks.slice(0, 50), true, encryptor, options.trickle); // warm-up
  const withSeal: number[] = [];
  const without: number[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    // Alternating, and in swapped order every other round, so drift on a busy machine hits both.
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const sealed of order) (sealed ? withSeal : without).push(await once(blocks, sealed, encryptor, options.trickle));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const mbps = (s: number) => bytes / 1024 / 1024 / s;
  const sealedMBps = mbps(median(withSeal));
  const unsealedMBps = mbps(median(without));
  return { trickle: options.trickle ? 1 : 0, blockBytes: options.blockBytes, blocks: blocks.length, mb: bytes / 1024 / 1024, unsealedMBps, sealedMBps, costPercent: (1 - sealedMBps / unsealedMBps) * 100 };
}

/**
 * The same question asked of CPU time, which a busy machine disturbs far less than throughput:
 * for one block, the seal (SHA-256 of the block, two HMACs) against the encryption the copy does
 * anyway (zlib, AES-256-CFB, SHA-1 MDC, the public-key step), alternating, medians of `rounds`.
 */
export async function perBlock(options: { blockBytes: number; rounds: number }): Promise<Record<string, number>> {
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'bench@example.org' }], format: 'armored', config: { aeadProtect: false } } as Parameters<typeof openpgp.generateKey>[0] & { format: 'armored' });
  const encryptor = createEncryptor({ recipients: await loadRecipientKeys([publicKey], new Date()), compress: 'zlib', armor: true, sessionKeyWindowMs: SESSION_KEY_WINDOW_MS });
  const all = lines(options.blockBytes);
  const block = Buffer.concat(all).subarray(0, options.blockBytes);
  const key = newSealKey();
  const meta = { streamId: 'ab'.repeat(16), seq: 1, kind: 'data' as const };
  const seal: number[] = [];
  const encrypt: number[] = [];
  const reps = options.blockBytes >= 65536 ? 20 : 200;
  for (let round = 0; round < options.rounds; round += 1) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < reps; i += 1) sealTag(key, { streamId: meta.streamId, seq: i, kind: 'd', time: 1, plaintext: block });
    seal.push(Number(process.hrtime.bigint() - t) / 1e6 / reps);
    t = process.hrtime.bigint();
    for (let i = 0; i < reps; i += 1) await encryptor.seal(block, meta, new Date());
    encrypt.push(Number(process.hrtime.bigint() - t) / 1e6 / reps);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { blockBytes: options.blockBytes, sealMs: median(seal), encryptMs: median(encrypt), costPercent: (median(seal) / median(encrypt)) * 100 };
}
