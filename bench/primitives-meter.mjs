// The floor of sealing (issue 14, target 1): the CPU seconds of the primitives alone — node's
// zlib deflate at level 1, AES-256-CFB, SHA-1 and base64 — over the same bytes the copy sealed,
// cut into the same blocks, in one thread (this process's main thread; nothing else runs here).
// The copy's CPU for the same input, divided by this, is the efficiency ratio.
//
// Run as a child process by bench/efficiency.mjs, so nothing else shares its CPU accounting:
//   node bench/primitives-meter.mjs SPEC.json   → JSON on stdout
// SPEC: { lines, seed, writer?, blockLines: [lines in block 0, block 1, ...], rounds }
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { linesFor } from './line-writer.mjs';

/** As runtime/encryptor.ts: blocks up to 16 KiB get a window sized to them and memLevel 5. */
const SYNC_DEFLATE_MAX = 16 * 1024;

function deflateLikeTheCopy(block) {
  if (block.length <= SYNC_DEFLATE_MAX) {
    const windowBits = Math.min(14, Math.max(9, Math.ceil(Math.log2(block.length))));
    return deflateSync(block, { level: 1, windowBits, memLevel: 5 });
  }
  return deflateSync(block, { level: 1, chunkSize: 256 * 1024 });
}

const cpuNs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
};

/** Cuts `data` after every `blockLines[i]` lines. */
export function cutBlocks(data, blockLines) {
  const blocks = [];
  let at = 0;
  for (const count of blockLines) {
    let end = at;
    for (let i = 0; i < count; i += 1) end = data.indexOf(0x0a, end) + 1;
    blocks.push(data.subarray(at, end));
    at = end;
  }
  if (at !== data.length) throw new Error(`the blocks cover ${at} of ${data.length} bytes`);
  return blocks;
}

/**
 * One pass over the blocks, primitive by primitive: all blocks deflated, then SHA-1 over every
 * compressed block, then AES-256-CFB, then base64, each step's CPU from getrusage (this process
 * runs one thread of work; zlib is synchronous here). Per step, not per call: a clock read per
 * call would cost more than SHA-1 of a small block.
 */
export function onePass(blocks) {
  const key = randomBytes(32);
  const iv = Buffer.alloc(16);
  const seconds = {};
  const step = (name, fn) => {
    const t = cpuNs();
    const out = fn();
    seconds[name] = (cpuNs() - t) / 1e9;
    return out;
  };
  const compressed = step('deflate', () => blocks.map(deflateLikeTheCopy));
  step('sha1', () => compressed.map((c) => createHash('sha1').update(c).digest()));
  const encrypted = step('aes', () =>
    compressed.map((c) => {
      const cipher = createCipheriv('aes-256-cfb', key, iv);
      const out = cipher.update(c);
      cipher.final();
      return out;
    }),
  );
  step('base64', () => encrypted.map((e) => e.toString('base64').length));
  const cpuSeconds = Object.values(seconds).reduce((a, b) => a + b, 0);
  return { cpuSeconds, seconds };
}

/** Best of `rounds` passes: the primitives' floor on this machine now. */
export function meter(blocks, rounds) {
  const bytes = blocks.reduce((n, b) => n + b.length, 0);
  let best = null;
  for (let r = 0; r < rounds; r += 1) {
    const pass = onePass(blocks);
    if (best === null || pass.cpuSeconds < best.cpuSeconds) best = pass;
  }
  const msPerMB = (s) => +((s * 1000) / (bytes / 1e6)).toFixed(2);
  return {
    bytes,
    blocks: blocks.length,
    meanBlockBytes: Math.round(bytes / blocks.length),
    cpuSeconds: +best.cpuSeconds.toFixed(3),
    cpuMsPerMB: msPerMB(best.cpuSeconds),
    msPerMB: Object.fromEntries(Object.entries(best.seconds).map(([k, v]) => [k, msPerMB(v)])),
  };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const data = linesFor(spec.lines, spec.writer ?? null);
  process.stdout.write(JSON.stringify(meter(cutBlocks(data, spec.blockLines), spec.rounds ?? 3)));
}
