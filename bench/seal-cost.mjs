// Throughput of the copy's write path with and without sealing, in the same run:
//
//   npm run bench:seal                      # a 64 MB flood, and 1,000 lines one block each; 7 rounds
//   npm run bench:seal -- --mb 16 --rounds 3
//
// Bundles bench/seal-cost-entry.ts (the runtime is TypeScript) next to this file, runs it, and
// removes the bundle. Prints a table and writes bench/results-seal.json.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values: opts } = parseArgs({ options: { mb: { type: 'string', default: '64' }, rounds: { type: 'string', default: '7' } } });
const BENCH = new URL('.', import.meta.url).pathname;
const bundle = join(BENCH, '.seal-cost.bundle.mjs');
await build({ entryPoints: [join(BENCH, 'seal-cost-entry.ts')], outfile: bundle, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
try {
  const { run, perBlock: perBlockOf } = await import(bundle);
  const run2 = (blockBytes) => perBlockOf({ blockBytes, rounds: Number(opts.rounds) });
  const rounds = Number(opts.rounds);
  const results = [
    // A flood: the writer merges queued blocks up to 1 MiB, as in the copy.
    await run({ mb: Number(opts.mb), rounds, blockBytes: 64 * 1024, trickle: false }),
    // A trickle: one line per message, where the per-block work (two HMACs, one SHA-256) weighs most.
    await run({ mb: 0.2, rounds, blockBytes: 1, trickle: true }),
  ];
  console.log('load             blocks     MB   unsealed MB/s   sealed MB/s   cost');
  for (const r of results) {
    console.log(`${String(r.trickle ? 'trickle (1 line)' : 'flood').padEnd(16)} ${String(r.blocks).padStart(7)} ${r.mb.toFixed(1).padStart(6)} ${r.unsealedMBps.toFixed(2).padStart(15)} ${r.sealedMBps.toFixed(2).padStart(13)} ${r.costPercent.toFixed(1).padStart(5)} %`);
  }
  const perBlock = [await run2(150), await run2(64 * 1024), await run2(1024 * 1024)];
  console.log('\nper block (CPU)   seal ms   encrypt ms   seal / encrypt');
  for (const r of perBlock) {
    console.log(`${`${r.blockBytes} B`.padEnd(16)} ${r.sealMs.toFixed(4).padStart(8)} ${r.encryptMs.toFixed(3).padStart(12)} ${r.costPercent.toFixed(1).padStart(12)} %`);
  }
  writeFileSync(join(BENCH, 'results-seal.json'), `${JSON.stringify({ date: new Date().toISOString(), throughput: results, perBlock }, null, 2)}\n`);
} finally {
  rmSync(bundle, { force: true });
}
