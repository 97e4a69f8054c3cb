// Issue 14, target 1: the copy's CPU per byte sealed against the CPU of its primitives alone
// (deflate level 1, AES-256-CFB, SHA-1, base64) over the same bytes cut into the same blocks.
//
// The blocks are the copy's own: its log is decrypted with `decrypt --json`, which gives every
// line's block (sequence number), so the meter (bench/primitives-meter.mjs, a child process of
// its own: one thread, nothing else in its CPU accounting) cuts the same lines at the same places.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const BENCH = new URL('.', import.meta.url).pathname;
const CLI = join(BENCH, '..', 'dist', 'cli.mjs');
const execFileAsync = promisify(execFile);
/** Issue 14: the copy's CPU per GB at most this many times its primitives'. */
export const EFFICIENCY_TARGET = 1.3;

/** Lines per data block of a copy's log, in order (control records are left out). */
export async function blockLineCounts(sec, log) {
  const child = spawn(process.execPath, [CLI, 'decrypt', '--key', sec, '--json', '--quiet', log], { stdio: ['ignore', 'pipe', 'inherit'] });
  const counts = [];
  let lastSeq = null;
  // Only the "seq" of line records is needed: a regex, not JSON.parse, over a million lines.
  for await (const text of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    if (!text.startsWith('{"v":1,"kind":"line"')) continue;
    const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
    if (seq === lastSeq) counts[counts.length - 1] += 1;
    else counts.push(1);
    lastSeq = seq;
  }
  const code = await new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
  if (code !== 0) throw new Error(`decrypt --json exited ${code}`);
  return counts;
}

/**
 * The ratio for one shape. `lines`/`writer` name the input as bench/line-writer.mjs's linesFor()
 * makes it; `copyCpuSeconds` is the copy's CPU (all threads) for sealing exactly that input.
 */
export async function efficiency({ shape, dir, sec, log, lines, writer = null, copyCpuSeconds, rounds = 3 }) {
  const blockLines = await blockLineCounts(sec, log);
  const total = blockLines.reduce((a, b) => a + b, 0);
  if (total !== lines) throw new Error(`${shape}: the log holds ${total} lines, ${lines} were written`);
  const spec = join(dir, `primitives-${shape.replace(/\W+/g, '-')}.json`);
  writeFileSync(spec, JSON.stringify({ lines, writer, blockLines, rounds }));
  const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'primitives-meter.mjs'), spec], { maxBuffer: 1 << 20 });
  const primitives = JSON.parse(stdout);
  const mb = primitives.bytes / 1e6;
  return {
    shape,
    MB: +mb.toFixed(1),
    blocks: primitives.blocks,
    meanBlockKiB: +(primitives.meanBlockBytes / 1024).toFixed(1),
    copyCpuSeconds: +copyCpuSeconds.toFixed(3),
    copyCpuMsPerMB: +((copyCpuSeconds * 1000) / mb).toFixed(2),
    primitivesCpuSeconds: primitives.cpuSeconds,
    primitivesCpuMsPerMB: primitives.cpuMsPerMB,
    primitivesMsPerMB: primitives.msPerMB,
    ratio: +(copyCpuSeconds / primitives.cpuSeconds).toFixed(2),
    target: EFFICIENCY_TARGET,
  };
}
