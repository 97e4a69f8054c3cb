// The benchmark (issue: throughput, latency, memory, decrypt speed, against plaintext and gpg).
// One run, one machine: prints a table and writes bench/results.json. Not part of the tests.
//
//   npm run bench                        # 1,000,000 lines (~146 MB), 1 GB memory flood
//   npm run bench -- --lines 200000 --memory-mb 256 --loop-lines 100 --latency-seconds 3
//
// Every flood is written by a separate writer process into a FIFO; the time runs from its first
// write until every line is durable on disk (fsync'd by the tool under test, or by the bench for
// `cat` and gpg, which do not sync). Every encrypted result is decrypted and compared with the
// written bytes by SHA-256.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import tmp from 'tmp';
import { catRow, gpgLoopRow, gpgPerBlock, gpgStreamRow, row } from './baselines.mjs';
import { disposeBenchKey, makeBenchKey } from './bench-key.mjs';
import { execFileAsync, exited, hashOutput, now, seconds, sha256 } from './bench-util.mjs';
import { copyFlood, waitForReader } from './copy-flood.mjs';
import { efficiency } from './efficiency.mjs';
import { floodRows, printFloodRows } from './flood-rows.mjs';
import { nginxLines } from './nginx-lines.mjs';
import { buildFloorC, trickleFloor, trickleRun } from './trickle.mjs';
import { decryptGpgBench } from './decrypt-gpg.mjs';
import { decryptSeries, timeDecrypts } from './decrypt-flood.mjs';
import { judge } from './targets.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.mjs');
const BENCH = join(ROOT, 'bench');

const { values: opts } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    'loop-lines': { type: 'string', default: '300' },
    'latency-seconds': { type: 'string', default: '10' },
    'latency-rate': { type: 'string', default: '200' },
    'memory-mb': { type: 'string', default: '1024' },
    'gpg-blocks': { type: 'string', default: '100' },
    'decrypt-runs': { type: 'string', default: '5' },
    'trickle-seconds': { type: 'string', default: '120' },
    'writer-lines': { type: 'string', default: '300000' },
    'many-lines': { type: 'string', default: '100000' },
    'core-rounds': { type: 'string', default: '2' },
  },
});
const LINES = Number(opts.lines);
const LOOP_LINES = Number(opts['loop-lines']);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const dir = tmp.dirSync({ prefix: 'pp-bench-', mode: 0o700, unsafeCleanup: true });
const results = { date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version }, options: { lines: LINES, loopLines: LOOP_LINES } };
try {
  // The admin's key as admins make it (bench/bench-key.mjs).
  const key = await makeBenchKey(dir.name);
  const { pub, sec, fpr, gpgEnv, privateKey } = key;
  const gpgEncrypt = ['--batch', '--quiet', '--yes', '--trust-model', 'always', '--recipient', fpr, '--encrypt'];

  const expected = nginxLines(LINES, 1);
  const expectedSha = sha256(expected);
  const loopExpected = nginxLines(LOOP_LINES, 1);
  const throughput = [];
  const checks = {};

  // (a) cat FIFO >> file: the plaintext limit.
  {
    const r = await catRow({ dir: dir.name, lines: LINES, expectedSha });
    throughput.push(r.row);
    checks.cat = r.matches;
  }

  // (b) the generated encrypter copy, default options (zlib, armored).
  const copyPipe = join(dir.name, 'copy.pipe');
  const copyLog = join(dir.name, 'copy.log');
  const copyPath = join(dir.name, 'copy.mjs');
  const generateMs = [];
  for (let i = 0; i < 3; i += 1) {
    const t = now();
    await execFileAsync(process.execPath, [CLI, 'encrypter', '--recipient-key', pub, '--pipe', copyPipe, '--output', copyLog, '--save-path', copyPath, '--log-level', 'warn', '--force']);
    generateMs.push(seconds(t, now()) * 1000);
  }
  const startupMs = [];
  for (let i = 0; i < 5; i += 1) {
    const t = now();
    const copy = spawn(copyPath, [], { stdio: ['ignore', 'ignore', 'ignore'] });
    const done = exited(copy);
    await waitForReader(copyPipe);
    startupMs.push(seconds(t, now()) * 1000);
    copy.kill('SIGTERM');
    await done;
  }
  rmSync(copyLog, { force: true });
  const main = await copyFlood(copyPath, copyPipe, LINES);
  throughput.push(row('paranoid-pipes copy (zlib, armored)', LINES, main.bytes, main.seconds));
  const copyRssMb = main.peakRssMb;
  // Target 1, the flood shape: the copy's CPU for this flood against its primitives on the same blocks.
  const floodEfficiency = await efficiency({ shape: '64 KiB writes', dir: dir.name, sec, log: copyLog, lines: LINES, copyCpuSeconds: main.cpuSeconds });

  // (b') the same copy without compression, binary: the cost of encryption alone.
  {
    const pipe = join(dir.name, 'plain.pipe');
    const log = join(dir.name, 'plain.log');
    const path = join(dir.name, 'plain.mjs');
    await execFileAsync(process.execPath, [CLI, 'encrypter', '--recipient-key', pub, '--pipe', pipe, '--output', log, '--save-path', path, '--log-level', 'warn', '--compress', 'none', '--binary']);
    const r = await copyFlood(path, pipe, LINES);
    throughput.push(row('paranoid-pipes copy (--compress none --binary)', LINES, r.bytes, r.seconds));
    checks.copyUncompressed = (await hashOutput(process.execPath, [CLI, 'decrypt', '--key', sec, log])).sha256 === expectedSha;
  }

  // (c) one gpg process reading the whole FIFO as one stream; (d) a shell loop with one gpg per line.
  const baseline = { dir: dir.name, gpgEncrypt, gpgEnv };
  {
    const r = await gpgStreamRow({ ...baseline, lines: LINES, expectedSha });
    throughput.push(r.row);
    checks.gpgSingle = r.matches;
  }
  {
    const r = await gpgLoopRow({ ...baseline, lines: LOOP_LINES, expectedSha: sha256(loopExpected), decrypt: (file) => hashOutput(process.execPath, [CLI, 'decrypt', '--key', sec, file]) });
    throughput.push(r.row);
    checks.gpgLoop = r.matches;
  }

  // Decrypt: our decrypter on the copy's flood output, then gpg once per block.
  const cipherBytes = statSync(copyLog).size;
  // Five runs, each into a file hashed afterwards (hashing a pipe as it streams would share the
  // CPU it measures), in an admin's environment (bench/decrypt-flood.mjs says why).
  const decryptRows = await timeDecrypts({ series: decryptSeries([CLI]), sec, log: copyLog, dir: dir.name, runs: Number(opts['decrypt-runs']), expectedSha });
  checks.copy = decryptRows.every((r) => r.matches);
  const decrypt = { name: 'paranoid-pipes decrypt (median)', blocks: null, cipherMB: +(cipherBytes / 1e6).toFixed(1), seconds: decryptRows[0].medianSeconds, 'cipher MB/s': decryptRows[0].medianCipherMBps, 'lines/s': Math.round(LINES / decryptRows[0].medianSeconds) };
  const gpgDecrypt = await gpgPerBlock({ log: copyLog, blocks: Number(opts['gpg-blocks']), gpgEnv });

  // Latency: a lone line at a time, at a low rate, into a fresh run of the copy.
  let latency;
  {
    rmSync(copyLog, { force: true });
    const copy = spawn(copyPath, [], { stdio: ['ignore', 'ignore', 'inherit'] });
    const done = exited(copy);
    await waitForReader(copyPipe);
    await sleep(300); // let the stream-start block land first
    const rate = Number(opts['latency-rate']);
    const count = Math.round(Number(opts['latency-seconds']) * rate);
    const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'latency-writer.mjs'), copyPipe, copyLog, String(count), String(1000 / rate)], { maxBuffer: 16 << 20 });
    copy.kill('SIGTERM');
    await done;
    const sorted = JSON.parse(stdout).latencies.sort((a, b) => a - b);
    latency = { lines: count, rate, p50Ms: +quantile(sorted, 0.5).toFixed(2), p99Ms: +quantile(sorted, 0.99).toFixed(2), maxMs: +sorted[sorted.length - 1].toFixed(2) };
  }

  // Memory: peak RSS of the copy while about 1 GB is flooded through it (lines repeat here).
  let memory;
  {
    rmSync(copyLog, { force: true });
    const repeat = Math.max(1, Math.round((Number(opts['memory-mb']) * 1e6) / expected.length));
    const r = await copyFlood(copyPath, copyPipe, LINES, { repeat });
    memory = { floodMB: +(r.bytes / 1e6).toFixed(0), seconds: +r.seconds.toFixed(2), 'MB/s': +(r.bytes / 1e6 / r.seconds).toFixed(1), peakRssMb: +r.peakRssMb.toFixed(1) };
    const back = await hashOutput(process.execPath, [CLI, 'decrypt', '--key', sec, '--show-control', copyLog]);
    const end2 = /"type":"stream-end".*?"lines":(\d+)/.exec(back.stderr);
    checks.memoryFloodLines = end2 !== null && Number(end2[1]) === LINES * repeat && back.bytes === r.bytes;
  }

  // Issue 14, targets 1 (per-line shape), 2, 3 and 6: bench/flood-rows.mjs.
  const floodSide = await floodRows({ dir: dir.name, key, lines: LINES, writerLines: Number(opts['writer-lines']), manyLines: Number(opts['many-lines']), rounds: Number(opts['core-rounds']), floodEfficiency });
  Object.assign(checks, floodSide.checks);

  // The steady trickle (issue 14, target 0): the default session-key window, a fresh key per block
  // for comparison, and the floor (no encryption) under the same load.
  const trickleSeconds = Number(opts['trickle-seconds']);
  const trickleKey = { pub, sec, privateKey };
  const trickle = [
    await trickleRun({ dir: dir.name, key: trickleKey, seconds: trickleSeconds }),
    await trickleRun({ dir: dir.name, key: trickleKey, seconds: trickleSeconds, generatorArgs: ['--session-key-window', '0'] }),
  ];
  // The Node.js floor, and the machine's own (bench/floor-c.c) when a C compiler is present.
  const floor = [await trickleFloor({ dir: dir.name, seconds: Math.min(trickleSeconds, 30) })];
  const floorC = await buildFloorC(dir.name);
  if (floorC.exe === null) console.log(floorC.why);
  else floor.push(await trickleFloor({ dir: dir.name, seconds: Math.min(trickleSeconds, 30), exe: floorC.exe }));
  checks.trickle = trickle.every((t) => t.decryptedMatches) && floor.every((f) => f.matches);

  // decrypt --gpg: private-key operations per second through gpg-agent (bench/decrypt-gpg.mjs).
  const gpgOps = await decryptGpgBench({ dir: dir.name });
  checks.decryptGpg = gpgOps.every((r) => r.decryptedMatches);

  const [cat, copyRow, , gpgRow, loopRow] = throughput;
  const ratios = { vsCat: +(copyRow['MB/s'] / cat['MB/s']).toFixed(2), vsGpg: +(copyRow['MB/s'] / gpgRow['MB/s']).toFixed(2), vsLoop: Math.round(copyRow['lines/s'] / loopRow['lines/s']) };
  for (const r of throughput) r['x cat'] = +(r['MB/s'] / cat['MB/s']).toFixed(5);
  const startup = { generateMs: Math.round(median(generateMs)), startupMs: Math.round(median(startupMs)) };
  const measured = {
    ...ratios,
    latencyP99Ms: latency.p99Ms,
    peakRssMb: Math.max(copyRssMb, memory.peakRssMb),
    decryptMBps: decrypt['cipher MB/s'],
    ...startup,
    trickleCpuPercent: trickle[0].cpuPercentOfCore,
    trickleLatencyP99Ms: trickle[0].latencyP99Ms,
    loneLineP99Ms: latency.p99Ms,
    trickleDecryptTextMBps: trickle[0].decryptTextMBps,
    idleRssMb: trickle[0].idleRssMb,
    idleWakeupsPerSecond: trickle[0].idleWakeupsPerSecond,
    gpgOpsPerSecondLowS2k: gpgOps[1].opsPerSecond,
    efficiencyFlood: floodSide.efficiency[0].ratio,
    efficiencyPerLine: floodSide.efficiency[1].ratio,
    writerSlowdown1: floodSide.writers.ratios['1 writer'].median,
    writerSlowdown8: floodSide.writers.ratios['8 writers'].median,
  };
  const targets = judge(measured);
  Object.assign(results, { throughput, copyPeakRssMbDuringThroughput: +copyRssMb.toFixed(1), latency, memory, decrypt: [decrypt, gpgDecrypt], decryptRuns: decryptRows.map(({ cli, ...r }) => r), decryptGpg: gpgOps, startup, trickle, trickleFloor: floor, floodSide, checks, targets });
  writeFileSync(join(BENCH, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nparanoid-pipes benchmark, ${results.date}, ${results.machine.cpus} x ${results.machine.cpu}, Node ${process.version}\n`);
  console.log('Throughput (writer process -> FIFO -> durable on disk):');
  console.table(throughput);
  console.log('Latency of a lone line (write(2) to the encrypted block appended to the log):');
  console.table([latency]);
  console.log('Memory (peak RSS of the copy):');
  console.table([{ during: `${(LINES / 1e6).toFixed(1)}M-line flood`, peakRssMb: +copyRssMb.toFixed(1) }, { during: `${memory.floodMB} MB flood`, peakRssMb: memory.peakRssMb, 'MB/s': memory['MB/s'] }]);
  console.log('Decrypt:');
  console.table([decrypt, gpgDecrypt]);
  console.table(decryptRows.map(({ cli, ...r }) => r));
  console.log('decrypt --gpg (a session key per block, key under a passphrase preset in gpg-agent):');
  console.table(gpgOps);
  printFloodRows(floodSide);
  console.log(`Steady trickle (2,000 lines/s in bursts every 10 ms for ${trickleSeconds} s, then idle):`);
  console.table(trickle.map((t) => ({ options: t.options, 'blocks/s': t.blocksPerSecond, 'CPU % of a core': t.cpuPercentOfCore, 'ms CPU/block': t.cpuMsPerBlock, 'p50 ms': t.latencyP50Ms, 'p99 ms': t.latencyP99Ms, 'RSS MB': t.rssLastMb, 'RSS MB/min (2nd half)': t.rssSlopeSecondHalfMbPerMin, 'decrypt text MB/s': t.decryptTextMBps, 'idle CPU %': t.idleCpuPercent, 'idle wake-ups/s': t.idleWakeupsPerSecond, 'idle RSS MB': t.idleRssMb })));
  console.table(floor);
  console.log('Generator and start-up (median):');
  console.table([startup]);
  console.log('Every output decrypts to exactly what was written:');
  console.table([checks]);
  console.log('Targets:');
  console.table(targets);
  console.log(`written to ${join('bench', 'results.json')}`);
  process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
} finally {
  await disposeBenchKey({ gpgEnv: { ...process.env, GNUPGHOME: join(dir.name, 'gnupg') } });
  dir.removeCallback();
}
