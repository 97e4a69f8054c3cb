// Before/after comparison of the copy's CPU per MB in a flood (issue 14, target 1), for work on
// the copy's own costs: copies generated beforehand (by the builds to compare) are flooded in
// turn, alternating, each round in both shapes (64 KiB writes; one write(2) per line), and the
// copy's CPU (rusage at exit, minus start-up) and its major collections (--trace-gc) are printed.
//
//   node bench/flood-ab.mjs --copy before=/tmp/a/copy.mjs --copy after=/tmp/b/copy.mjs \
//     --lines 1000000 --line-writer-lines 300000 --rounds 3
//   --copy 'grow=/tmp/b/copy.mjs@--heap-growing-percent=300'   (the same copy under V8 flags)
//
// Each copy path must be a generated copy whose --pipe and --output sit next to it as
// NAME.pipe and NAME.log (bench/flood-rows.mjs generateCopy makes them so).
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSecondsNow, startCopy } from './copy-process.mjs';
import { copyFlood, waitForReader } from './copy-flood.mjs';

const BENCH = new URL('.', import.meta.url).pathname;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A wrapper that runs the copy with --trace-gc, its stdout (the trace) into `gcLog`; same pid. */
function traced(copyPath, gcLog, nodeFlags, name) {
  const wrapper = `${copyPath}.${name}.traced.sh`;
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" --trace-gc ${nodeFlags} "${copyPath}" > "${gcLog}"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

const majors = (gcLog) => (readFileSync(gcLog, 'utf8').match(/Mark-Compact/g) ?? []).length;

/** One writer, one write(2) per line (bench/line-writer.mjs), into a started copy. */
async function perLineFlood(copyPath, pipe, lines) {
  const copy = await startCopy(copyPath);
  await waitForReader(pipe);
  await sleep(200);
  const startupCpu = cpuSecondsNow(copy.pid);
  const writer = spawn(process.execPath, [join(BENCH, 'line-writer.mjs'), pipe, String(lines), '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  writer.stdout.on('data', (c) => (out += c));
  while (!out.includes('ready')) await sleep(5);
  writer.stdin.write('x');
  await new Promise((resolve) => writer.on('exit', resolve));
  const report = JSON.parse(out.slice(out.indexOf('{')));
  copy.kill('SIGTERM');
  const { code, cpuSeconds } = await copy.done;
  if (code !== 0) throw new Error(`the copy exited ${code}`);
  return { bytes: report.bytes, cpuSeconds: +(cpuSeconds - startupCpu).toFixed(3), writerSeconds: Number(BigInt(report.closedAt) - BigInt(report.startedAt)) / 1e9 };
}

const { values } = parseArgs({
  options: {
    copy: { type: 'string', multiple: true },
    lines: { type: 'string', default: '1000000' },
    'line-writer-lines': { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '3' },
    shapes: { type: 'string', default: 'flood,per-line' },
  },
});
const copies = values.copy.map((spec) => {
  // NAME=PATH, or NAME=PATH@NODE-FLAGS: the same copy run with V8 flags, for experiments.
  const [name, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
  const [path, nodeFlags = ''] = rest.split('@');
  const base = path.replace(/\.mjs$/, '');
  return { name, path, nodeFlags, pipe: `${base}.pipe`, log: `${base}.log`, gcLog: join(dirname(path), `${name}.gc.log`) };
});
const shapes = values.shapes.split(',');
const results = [];
for (let round = 1; round <= Number(values.rounds); round += 1) {
  for (const c of round % 2 === 1 ? copies : [...copies].reverse()) {
    for (const shape of shapes) {
      rmSync(c.log, { force: true });
      const wrapper = traced(c.path, c.gcLog, c.nodeFlags, c.name);
      const load = +loadavg()[0].toFixed(2);
      const r = shape === 'flood' ? await copyFlood(wrapper, c.pipe, Number(values.lines)) : await perLineFlood(wrapper, c.pipe, Number(values['line-writer-lines']));
      const row = { round, copy: c.name, shape, mb: +(r.bytes / 1e6).toFixed(1), cpuSeconds: r.cpuSeconds, msPerMb: +((r.cpuSeconds * 1000) / (r.bytes / 1e6)).toFixed(2), majorGcs: majors(c.gcLog), load, ...(r.peakRssMb ? { peakRssMb: +r.peakRssMb.toFixed(1) } : {}), writerSeconds: +r.writerSeconds.toFixed(2), ...(r.threads ? { threads: r.threads } : {}) };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  }
}
for (const shape of shapes) {
  for (const c of copies) {
    const rows = results.filter((r) => r.copy === c.name && r.shape === shape);
    const ms = rows.map((r) => r.msPerMb).sort((a, b) => a - b);
    const gcs = rows.map((r) => r.majorGcs).sort((a, b) => a - b);
    console.log(`${shape} ${c.name}: ${ms[0]}–${ms.at(-1)} ms/MB (median ${ms[Math.floor(ms.length / 2)]}), major GCs ${gcs[0]}–${gcs.at(-1)}`);
  }
}
