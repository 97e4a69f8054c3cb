// The copy's idle memory (issue 14, target 5: RSS ≤ 50 MB while idle). For each run: a copy
// generated with default options, started as its unit starts it (MALLOC_ARENA_MAX=2), then
//   - fresh: RSS 10 s after start with nothing written (VmRSS, RssAnon, RssFile),
//   - a trickle (bench/trickle-writer.mjs: 2,000 nginx lines/s in bursts every 10 ms),
//   - after: RSS once it has been idle again for 15 s,
// and, for comparison, a bare `node` idling (`setInterval`). Memory does not depend on the load,
// so a busy machine is fine. `--cli DIR/dist/cli.mjs` generates with another build (a "before"
// built from another commit), so before and after can alternate in one series.
//
//   node bench/idle-rss.mjs [--runs 3] [--seconds 120] [--cli PATH ...] [--out FILE]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withBenchKey } from './bench-key.mjs';
import { execFileAsync, writeResults } from './bench-util.mjs';
import { waitForReader } from './copy-flood.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const FRESH_MS = 10_000;
const SETTLE_MS = 15_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** VmRSS, RssAnon and RssFile of a process, in MB. */
export function rssParts(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  const mb = (v) => +(v / 1024).toFixed(1);
  return { rss: mb(kb('VmRSS')), anon: mb(kb('RssAnon')), file: mb(kb('RssFile')) };
}

async function bareNode() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore', env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  await sleep(FRESH_MS);
  const parts = rssParts(child.pid);
  child.kill();
  return parts;
}

async function idleRun({ dir, key, cli, seconds, tag }) {
  const pipe = join(dir, `${tag}.pipe`);
  const log = join(dir, `${tag}.log`);
  const copyPath = join(dir, `${tag}.mjs`);
  await execFileAsync(process.execPath, [cli, 'encrypter', '--recipient-key', key.pub, '--pipe', pipe, '--output', log, '--save-path', copyPath, '--log-level', 'warn', '--force']);
  const copy = spawn(copyPath, [], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  const exited = new Promise((resolve) => copy.on('exit', (code) => resolve(code)));
  const started = performance.now();
  await waitForReader(pipe, 10_000, copy);
  await sleep(Math.max(0, FRESH_MS - (performance.now() - started)));
  const fresh = rssParts(copy.pid);
  let peak = fresh.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, rssParts(copy.pid).rss)), 1000);
  await execFileAsync(process.execPath, [join(ROOT, 'bench', 'trickle-writer.mjs'), pipe, log, String(seconds), '2000', '10', '7'], { maxBuffer: 256 << 20 });
  clearInterval(sampler);
  await sleep(SETTLE_MS);
  const after = rssParts(copy.pid);
  copy.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the copy exited ${code}`);
  return { cli, bundleBytes: readFileSync(copyPath).length, fresh, trickleSeconds: seconds, peakMb: peak, after };
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '120' }, cli: { type: 'string', multiple: true }, out: { type: 'string' } } });
  const clis = values.cli ?? [join(ROOT, 'dist', 'cli.mjs')];
  const rows = await withBenchKey('pp-idle-rss-', async (dir, key) => {
    const out = { bareNode: await bareNode(), runs: [] };
    for (let run = 0; run < Number(values.runs); run += 1) {
      // Alternating: each build once per round.
      for (const [i, cli] of clis.entries()) {
        const row = await idleRun({ dir, key, cli, seconds: Number(values.seconds), tag: `c${i}` });
        process.stderr.write(`${JSON.stringify(row)}\n`);
        out.runs.push(row);
      }
    }
    return out;
  });
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const body = { ...rows, loadavg };
  if (values.out) writeResults(values.out, body);
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
