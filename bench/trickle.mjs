// The steady-trickle shape (issue 14, target 0): a web server at ~2,000 lines/s writes a burst of
// lines every 10 ms. Runs a generated copy under that load and reports
//   - the copy's CPU as a share of one core, from /proc/PID/stat (utime + stime) over the run,
//   - the latency of every line in a sample of blocks: from its write(2) until the block that holds
//     it was appended to the log (the writer notes both on one clock),
//   - RSS every second and its slope,
//   - then decrypts the whole log with `paranoid-pipes decrypt`, timed (the trickle-log decrypt
//     shape of issue 11), and compares the text with what was written.
//
//   node bench/trickle.mjs [--seconds 120] [--runs 1] [--window 60s ...] [--out FILE] [--profile DIR]
//                          [--floor] [--no-copy]   # --floor: the C and Node.js floors too (each with and without fdatasync;
//                                                  #   Node.js also with fdatasync on the event loop's thread, as the copy under a trickle)
//                          [--malloc-arena-max 2]  # the copy's MALLOC_ARENA_MAX, as its unit sets it; 0: unset
//   npm run bench:soak     # 600 s, results in bench/results-soak.json
//
// run.mjs calls trickleRun() for `npm run bench`.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { withBenchKey } from './bench-key.mjs';
import { adminEnv, writeResults } from './bench-util.mjs';
import { waitForReader } from './copy-flood.mjs';
import { nginxLines } from './nginx-lines.mjs';

const execFileAsync = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const BENCH = join(ROOT, 'bench');
const CLI = join(ROOT, 'dist', 'cli.mjs');
/** Kernel clock ticks per second for /proc/PID/stat (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;
/** After the trickle, the copy is watched this long with nothing written (target 5: idle). */
const IDLE_SECONDS = 10;
const IDLE_SETTLE_MS = 5000;
/** Blocks decrypted to measure latency: enough for a p99 over thousands of lines. */
const LATENCY_SAMPLE_BLOCKS = 800;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
}

/** Context switches of every thread of a process: each is a wake-up, or a preemption. */
function contextSwitches(pid) {
  let n = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    for (const m of status.matchAll(/_ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
  }
  return n;
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** The armored messages of a log: [start, end] offsets. */
function messageSpans(log) {
  const spans = [];
  const END = Buffer.from('-----END PGP MESSAGE-----\n');
  let from = 0;
  for (let at = log.indexOf(END); at >= 0; at = log.indexOf(END, from)) {
    spans.push([from, at + END.length]);
    from = at + END.length;
  }
  return spans;
}

/** bench/floor-c.c built into `dir` with `cc -O2`, or null (with the reason) when there is no compiler. */
export async function buildFloorC(dir) {
  const exe = join(dir, 'floor-c');
  try {
    await execFileAsync('cc', ['-O2', '-o', exe, join(BENCH, 'floor-c.c')]);
    return { exe, why: null };
  } catch (err) {
    return { exe: null, why: `no C floor: cc failed or is missing (${err.code ?? err.message})` };
  }
}

/**
 * The floor: a reader with no encryption under the same trickle (plaintext out, compared with
 * what was written). `exe` null: bench/floor-reader.mjs (Node.js, the copy's pipe handling);
 * otherwise the C reader built by buildFloorC (the machine's own floor). `mode`: `sync` (fdatasync
 * each burst; on the thread pool for Node.js), `mainsync` (Node.js only: on the event loop's
 * thread) or `nosync`. Only its CPU is of interest.
 */
export async function trickleFloor({ dir, seconds = 120, rate = 2000, burstMs = 10, seed = 7, mode = 'sync', exe = null }) {
  const pipe = join(dir, 'floor.pipe');
  const out = join(dir, 'floor.out');
  rmSync(out, { force: true });
  rmSync(pipe, { force: true });
  await execFileAsync('mkfifo', ['-m', '600', pipe]);
  writeFileSync(out, '', { mode: 0o600 });
  const command = exe === null ? [process.execPath, [join(BENCH, 'floor-reader.mjs'), pipe, out, mode]] : [exe, [pipe, out, mode]];
  const reader = spawn(command[0], command[1], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => reader.on('exit', (code) => resolve(code)));
  await sleep(300);
  const t0 = performance.now();
  const ticks0 = cpuTicks(reader.pid);
  const switches0 = contextSwitches(reader.pid);
  const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'trickle-writer.mjs'), pipe, out, String(seconds), String(rate), String(burstMs), String(seed)], { maxBuffer: 256 << 20 });
  const ticks1 = cpuTicks(reader.pid);
  const switches1 = contextSwitches(reader.pid);
  const wallS = (performance.now() - t0) / 1000;
  reader.kill('SIGTERM');
  await exited;
  const w = JSON.parse(stdout);
  const matches = sha256(readFileSync(out)) === sha256(nginxLines(w.lines, seed));
  rmSync(out, { force: true });
  const writes = w.growth.length;
  return {
    options: `floor (${exe === null ? 'Node.js' : 'C'}): read + write${mode !== 'nosync' ? ` + fdatasync${mode === 'mainsync' ? ' on the loop' : ''}` : ''}, no encryption`,
    seconds,
    cpuPercentOfCore: +((100 * (ticks1 - ticks0)) / CLK_TCK / wallS).toFixed(2),
    writes,
    cpuMsPerWrite: +(((ticks1 - ticks0) * 1000) / CLK_TCK / writes).toFixed(3),
    switchesPerWrite: +((switches1 - switches0) / writes).toFixed(2),
    matches,
  };
}

/**
 * One trickle run. `key` from makeBenchKey; `generatorArgs` are extra options for the copy (say
 * `['--session-key-window', '0']`).
 */
export async function trickleRun({ dir, key, seconds = 120, rate = 2000, burstMs = 10, generatorArgs = [], seed = 7, profileDir = null, mallocArenaMax = 2 }) {
  const pipe = join(dir, 'trickle.pipe');
  const log = join(dir, 'trickle.log');
  const copyPath = join(dir, 'trickle-copy.mjs');
  rmSync(log, { force: true });
  await execFileAsync(process.execPath, [CLI, 'encrypter', '--recipient-key', key.pub, '--pipe', pipe, '--output', log, '--save-path', copyPath, '--log-level', 'warn', '--force', ...generatorArgs]);
  // With a profile directory, node writes a CPU profile of the copy there at its exit.
  const command = profileDir === null ? [copyPath, []] : [process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, copyPath]];
  // As the generated systemd unit and init script start it (MALLOC_ARENA_MAX=2); 0: unset.
  const env = { ...process.env };
  if (mallocArenaMax > 0) env.MALLOC_ARENA_MAX = String(mallocArenaMax);
  else delete env.MALLOC_ARENA_MAX;
  const copy = spawn(command[0], command[1], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const exited = new Promise((resolve) => copy.on('exit', (code) => resolve(code)));
  await waitForReader(pipe, 10_000, copy);
  await sleep(300); // start-up work and the stream-start block are not the trickle's cost
  const rss = [];
  const t0 = performance.now();
  const ticks0 = cpuTicks(copy.pid);
  const switches0 = contextSwitches(copy.pid);
  const sampler = setInterval(() => rss.push([(performance.now() - t0) / 1000, rssMb(copy.pid)]), 1000);
  const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'trickle-writer.mjs'), pipe, log, String(seconds), String(rate), String(burstMs), String(seed)], { maxBuffer: 256 << 20 });
  const ticks1 = cpuTicks(copy.pid);
  const switches1 = contextSwitches(copy.pid);
  const wallS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  // Idle: nothing written. CPU, wake-ups (context switches of all its threads) and RSS, once the
  // garbage collector's threads have settled after the trickle.
  await sleep(IDLE_SETTLE_MS);
  const idle0 = { ticks: cpuTicks(copy.pid), switches: contextSwitches(copy.pid), at: performance.now() };
  await sleep(IDLE_SECONDS * 1000);
  const idleS = (performance.now() - idle0.at) / 1000;
  const idle = {
    idleCpuPercent: +((100 * (cpuTicks(copy.pid) - idle0.ticks)) / CLK_TCK / idleS).toFixed(2),
    idleWakeupsPerSecond: +((contextSwitches(copy.pid) - idle0.switches) / idleS).toFixed(2),
    idleRssMb: +rssMb(copy.pid).toFixed(1),
  };
  copy.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the copy exited ${code}`);
  const w = JSON.parse(stdout);

  // Latency: decrypt a sample of blocks spread over the run; each line's write time is its
  // burst's, its append time the first growth of the log past the block's end.
  const logBytes = readFileSync(log);
  const spans = messageSpans(logBytes);
  const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateKey });
  const step = Math.max(1, Math.floor(spans.length / LATENCY_SAMPLE_BLOCKS));
  const latencies = [];
  let g = 0;
  for (let i = 0; i < spans.length; i += step) {
    const [start, end] = spans[i];
    const message = await openpgp.readMessage({ armoredMessage: logBytes.toString('latin1', start, end) });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
    const rids = [...Buffer.from(data).toString('latin1').matchAll(/ rid=(\d+)\n/g)].map((m) => Number(m[1]));
    if (rids.length === 0) continue; // a control block
    while (g < w.growth.length && w.growth[g][1] < end) g += 1;
    if (g >= w.growth.length) break;
    const appendedAt = w.growth[g][0];
    for (const rid of rids) latencies.push(appendedAt - w.bursts[Math.floor(rid / w.perBurst)][1]);
  }
  latencies.sort((a, b) => a - b);

  // Decrypt the whole log (the trickle-log shape of issue 11) and compare.
  const out = join(dir, 'trickle.out');
  const td = performance.now();
  await execFileAsync(process.execPath, [CLI, 'decrypt', '--key', key.sec, '--output', out, log], { env: adminEnv() });
  const decryptS = (performance.now() - td) / 1000;
  const matches = sha256(readFileSync(out)) === sha256(nginxLines(w.lines, seed));
  const half = rss.filter(([t]) => t >= wallS / 2);
  const result = {
    options: generatorArgs.join(' ') || '(defaults)',
    mallocArenaMax: mallocArenaMax > 0 ? mallocArenaMax : null,
    seconds,
    linesPerSecond: rate,
    burstMs,
    lines: w.lines,
    textMB: +(w.bytes / 1e6).toFixed(2),
    blocks: spans.length,
    blocksPerSecond: +(spans.length / wallS).toFixed(1),
    cpuPercentOfCore: +((100 * (ticks1 - ticks0)) / CLK_TCK / wallS).toFixed(2),
    cpuMsPerBlock: +(((ticks1 - ticks0) * 1000) / CLK_TCK / spans.length).toFixed(3),
    switchesPerBlock: +((switches1 - switches0) / spans.length).toFixed(2),
    latencyLines: latencies.length,
    latencyP50Ms: +quantile(latencies, 0.5).toFixed(2),
    latencyP99Ms: +quantile(latencies, 0.99).toFixed(2),
    latencyMaxMs: +latencies[latencies.length - 1].toFixed(2),
    rssFirstMb: +rss[0][1].toFixed(1),
    rssLastMb: +rss[rss.length - 1][1].toFixed(1),
    rssMaxMb: +Math.max(...rss.map(([, m]) => m)).toFixed(1),
    rssSlopeMbPerMin: +(slope(rss) * 60).toFixed(3),
    rssSlopeSecondHalfMbPerMin: +(slope(half) * 60).toFixed(3),
    logMB: +(statSync(log).size / 1e6).toFixed(2),
    decryptSeconds: +decryptS.toFixed(3),
    decryptTextMBps: +(w.bytes / 1e6 / decryptS).toFixed(1),
    decryptedMatches: matches,
    ...idle,
  };
  rmSync(out, { force: true });
  return result;
}

async function main() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '120' },
      runs: { type: 'string', default: '1' },
      window: { type: 'string', multiple: true },
      out: { type: 'string' },
      profile: { type: 'string' },
      floor: { type: 'boolean', default: false },
      'no-copy': { type: 'boolean', default: false },
      'malloc-arena-max': { type: 'string', default: '2' },
    },
  });
  const results = [];
  await withBenchKey('pp-trickle-', async (dir, key) => {
    const windows = values['no-copy'] ? [] : (values.window ?? [null]);
    for (let run = 0; run < Number(values.runs); run += 1) {
      if (values.floor) {
        const c = await buildFloorC(dir);
        if (c.exe === null) console.log(c.why);
        for (const exe of c.exe === null ? [null] : [c.exe, null]) {
          // The Node.js reader also with fdatasync on the loop's thread, as the copy does under a trickle.
          for (const mode of exe === null ? ['sync', 'mainsync', 'nosync'] : ['sync', 'nosync']) {
            const f = await trickleFloor({ dir, seconds: Number(values.seconds), mode, exe });
            console.table([f]);
            results.push({ ...f, decryptedMatches: f.matches });
          }
        }
      }
      for (const window of windows) {
        const generatorArgs = window === null ? [] : ['--session-key-window', window];
        const r = await trickleRun({ dir, key, seconds: Number(values.seconds), generatorArgs, profileDir: values.profile ?? null, mallocArenaMax: Number(values['malloc-arena-max']) });
        console.table([r]);
        results.push(r);
      }
    }
  });
  if (values.out) writeResults(values.out, { results });
  process.exitCode = results.every((r) => r.decryptedMatches) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
