// The flood-side rows of issue 14 beside the main throughput table: target 1 (efficiency against
// the primitives, both shapes), 2 (a writer's slowdown, 1 and 8 writers), 3 (1 core and 2 cores)
// and 6 (age and gpg on one stream). run.mjs calls floodRows(); alone, for a quicker look:
//
//   npm run bench:flood                      # 1,000,000 lines; writers 300,000 and 8 × 100,000
//   node bench/flood-rows.mjs --lines 200000 --writer-lines 100000 --many-lines 20000 --rounds 1
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { withBenchKey } from './bench-key.mjs';
import { writeResults } from './bench-util.mjs';
import { copyFlood } from './copy-flood.mjs';
import { cores } from './cores.mjs';
import { efficiency } from './efficiency.mjs';
import { nginxLines } from './nginx-lines.mjs';
import { peers } from './peers.mjs';
import { writerSlowdown } from './writers.mjs';

const BENCH = new URL('.', import.meta.url).pathname;
const CLI = join(BENCH, '..', 'dist', 'cli.mjs');
const execFileAsync = promisify(execFile);
const load = () => +loadavg()[0].toFixed(2);

/** A copy with default options, generated into `dir` under `name`. */
export async function generateCopy(dir, key, name) {
  const pipe = join(dir, `${name}.pipe`);
  const log = join(dir, `${name}.log`);
  const path = join(dir, `${name}.mjs`);
  await execFileAsync(process.execPath, [CLI, 'encrypter', '--recipient-key', key.pub, '--pipe', pipe, '--output', log, '--save-path', path, '--log-level', 'warn', '--force']);
  return { pipe, log, path };
}

/**
 * Targets 2, 3 and 6, and target 1's per-line shape. The flood shape of target 1 needs the log of
 * a flood of `lines` and the copy's CPU for it: run.mjs measures that in its main row and calls
 * efficiency() itself, so it passes `floodEfficiency`; alone, this runs that flood first.
 */
export async function floodRows({ dir, key, lines, writerLines = 300_000, manyLines = 100_000, rounds = 2, floodEfficiency = null }) {
  const loads = { start: load() };
  const copy = await generateCopy(dir, key, 'rows');
  let flood = floodEfficiency;
  if (flood === null) {
    rmSync(copy.log, { force: true });
    const main = await copyFlood(copy.path, copy.pipe, lines);
    flood = await efficiency({ shape: '64 KiB writes', dir, sec: key.sec, log: copy.log, lines, copyCpuSeconds: main.cpuSeconds });
  }
  const writers = await writerSlowdown({ dir, key, lines: writerLines, manyLines });
  loads.writers = load();
  rmSync(copy.log, { force: true });
  const coreRows = await cores({ copyPath: copy.path, pipe: copy.pipe, lines, rounds });
  rmSync(copy.log, { force: true });
  loads.cores = load();
  const expectedSha = createHash('sha256').update(nginxLines(lines, 1)).digest('hex');
  const peerRows = await peers({ dir, key, lines, expectedSha });
  loads.peers = load();
  return { efficiency: [flood, writers.perLine], writers: { rows: writers.rows, ratios: writers.ratios }, cores: coreRows, peers: peerRows.rows, checks: { writersUnmerged: writers.unmerged, ...Object.fromEntries(Object.entries(peerRows.checks).map(([k, v]) => [`peer ${k}`, v])) }, loadAverage: loads };
}

export function printFloodRows(r) {
  console.log('Target 1, efficiency: the copy\'s CPU (all threads) ÷ its primitives\' (deflate 1 + AES-256-CFB + SHA-1 + base64, one thread), same bytes, same blocks:');
  console.table(r.efficiency.map(({ primitivesMsPerMB, ...rest }) => ({ ...rest, 'deflate/sha1/aes/base64 ms/MB': Object.values(primitivesMsPerMB).join(' / ') })));
  console.log('Target 2, one write(2) per line: each writer\'s wall time (first write to close), into cat and into the copy:');
  console.table(r.writers.rows);
  console.table(Object.entries(r.writers.ratios).map(([k, v]) => ({ writers: k, 'copy ÷ cat (median writer)': v.median, 'copy ÷ cat (slowest)': v.max, 'floor (any sealing reader)': v.floor, target: v.target })));
  console.log('Target 3, the flood pinned to 1 and 2 cores (taskset around the copy; the writer not pinned):');
  console.table(r.cores.map(({ threads, ...rest }) => ({ ...rest, 'main thread CPU s': threads.main, 'other threads CPU s': threads.others })));
  console.log('Target 6, peers on one stream:');
  console.table(r.peers);
  console.log('Checks:', r.checks, 'load average (1 min):', r.loadAverage);
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values: opts } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, 'writer-lines': { type: 'string', default: '300000' }, 'many-lines': { type: 'string', default: '100000' }, rounds: { type: 'string', default: '2' }, out: { type: 'string' } } });
  await withBenchKey('pp-flood-rows-', async (dir, key) => {
    const r = await floodRows({ dir, key, lines: Number(opts.lines), writerLines: Number(opts['writer-lines']), manyLines: Number(opts['many-lines']), rounds: Number(opts.rounds) });
    printFloodRows(r);
    if (opts.out) writeResults(opts.out, r);
    process.exitCode = Object.values(r.checks).every(Boolean) ? 0 : 1;
  });
}
