// Lone-line latency (issue 14, target 4) on its own, repeated: `npm run bench` measures it once
// among everything else. Each run generates a copy with default options, starts it as its unit
// does (MALLOC_ARENA_MAX=2), and bench/latency-writer.mjs writes one line every INTERVAL ms and
// waits, by inotify, until the log grows: write(2) → encrypted block appended. The load average
// is recorded with each run: on a shared machine the tail follows it.
//
//   node bench/latency.mjs [--runs 3] [--lines 2000] [--interval-ms 5] [--out bench/results-latency.json]
import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { withBenchKey } from './bench-key.mjs';
import { writeResults } from './bench-util.mjs';
import { waitForReader } from './copy-flood.mjs';

const execFileAsync = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const BENCH = join(ROOT, 'bench');
const CLI = join(ROOT, 'dist', 'cli.mjs');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

export async function latencyRun({ dir, key, lines = 2000, intervalMs = 5 }) {
  const pipe = join(dir, 'latency.pipe');
  const log = join(dir, 'latency.log');
  const copyPath = join(dir, 'latency-copy.mjs');
  rmSync(log, { force: true });
  await execFileAsync(process.execPath, [CLI, 'encrypter', '--recipient-key', key.pub, '--pipe', pipe, '--output', log, '--save-path', copyPath, '--log-level', 'warn', '--force']);
  const copy = spawn(copyPath, [], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  const exited = new Promise((resolve) => copy.on('exit', (code) => resolve(code)));
  await waitForReader(pipe, 10_000, copy);
  await sleep(300); // the stream-start block lands first
  const loadBefore = loadAverage();
  const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'latency-writer.mjs'), pipe, log, String(lines), String(intervalMs)], { maxBuffer: 16 << 20 });
  copy.kill('SIGTERM');
  if ((await exited) !== 0) throw new Error('the copy did not stop cleanly');
  const sorted = JSON.parse(stdout).latencies.sort((a, b) => a - b);
  return {
    lines,
    intervalMs,
    p50Ms: +quantile(sorted, 0.5).toFixed(2),
    p90Ms: +quantile(sorted, 0.9).toFixed(2),
    p99Ms: +quantile(sorted, 0.99).toFixed(2),
    maxMs: +sorted[sorted.length - 1].toFixed(2),
    loadAverage: [loadBefore, loadAverage()],
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      lines: { type: 'string', default: '2000' },
      'interval-ms': { type: 'string', default: '5' },
      out: { type: 'string' },
    },
  });
  const results = [];
  await withBenchKey('pp-latency-', async (dir, key) => {
    for (let run = 0; run < Number(values.runs); run += 1) {
      const r = await latencyRun({ dir, key, lines: Number(values.lines), intervalMs: Number(values['interval-ms']) });
      console.table([r]);
      results.push(r);
    }
  });
  if (values.out) writeResults(values.out, { results });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
