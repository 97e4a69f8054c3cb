// CPU cost of --ignore / --keep per MB of log lines, in one process: the copy's own LineFilter
// over 64 KiB blocks of varied nginx lines (bench/nginx-lines.mjs), the way admit() feeds it.
// A copy without filters runs none of this code, so its cost there is zero by construction.
//
//   npm run bench:filters                   # 64 MB, 5 rounds per case
//   npm run bench:filters -- --mb 16 --rounds 3
//
// Bundles the TypeScript filter modules next to this file, runs them, removes the bundle.
// Prints a table and writes bench/results-filters.json.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { writeResults } from './bench-util.mjs';
import { nginxLine, random } from './nginx-lines.mjs';

const { values: opts } = parseArgs({ options: { mb: { type: 'string', default: '64' }, rounds: { type: 'string', default: '5' } } });
const BENCH = new URL('.', import.meta.url).pathname;
const bundle = join(BENCH, '.filter-cost.bundle.mjs');
await build({
  stdin: {
    contents: "export { FilterRules } from '../runtime/filters/rules.ts'; export { FilterTally } from '../runtime/filters/tally.ts'; export { LineFilter } from '../runtime/filters/line-filter.ts';",
    resolveDir: BENCH,
    loader: 'ts',
  },
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});

const CASES = [
  { name: '1 --ignore, literal', ignore: ['/health'], keep: [] },
  { name: '3 --ignore', ignore: ['/health', '" 30[0-9] ', '^10\\.'], keep: [] },
  { name: '3 --ignore, 2 --keep', ignore: ['/health', '" 30[0-9] ', '^10\\.'], keep: ['"(GET|POST|PUT|DELETE) ', 'HTTP/1\\.[01]" [0-9]{3} '] },
  { name: '1 --keep, anchored at end', ignore: [], keep: ['rid=[0-9]+$'] },
];

try {
  const { FilterRules, FilterTally, LineFilter } = await import(bundle);
  const rnd = random(0x2545f491);
  // Line-aligned blocks of about 64 KiB, as the framer makes them under load.
  const blocks = [];
  let total = 0;
  let i = 0;
  while (total < Number(opts.mb) * 1024 * 1024) {
    const lines = [];
    let size = 0;
    while (size < 64 * 1024) {
      const line = nginxLine(i++, rnd);
      lines.push(line);
      size += Buffer.byteLength(line);
    }
    const block = Buffer.from(lines.join(''));
    blocks.push(block);
    total += block.length;
  }
  const mb = total / (1024 * 1024);
  const results = [];
  for (const c of CASES) {
    const rules = new FilterRules({ ignore: c.ignore, keep: c.keep });
    let best = Infinity;
    let dropped = 0;
    for (let r = 0; r < Number(opts.rounds); r += 1) {
      const tally = new FilterTally(rules.patterns);
      const filter = new LineFilter(rules, tally.of('bench'));
      const t0 = process.cpuUsage();
      for (const block of blocks) filter.apply(block);
      const used = process.cpuUsage(t0);
      best = Math.min(best, (used.user + used.system) / 1000);
      dropped = tally.totals().lines / i;
    }
    results.push({ case: c.name, mb, msPerMB: best / mb, MBps: mb / (best / 1000), droppedShare: dropped });
  }
  console.log('filters                        ms CPU per MB     MB/s   lines dropped');
  for (const r of results) console.log(`${r.case.padEnd(30)} ${r.msPerMB.toFixed(2).padStart(13)} ${r.MBps.toFixed(0).padStart(8)} ${(r.droppedShare * 100).toFixed(1).padStart(12)} %`);
  writeResults(join(BENCH, 'results-filters.json'), { results });
} finally {
  rmSync(bundle, { force: true });
}
