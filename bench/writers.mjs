// Issue 14, target 2: the writer is not slowed. Writers like nginx (bench/line-writer.mjs: one
// write(2) per line), 1 and 8 at once (each its own process, all into the same FIFO), into `cat`
// and into the copy; each writer's wall time from its first write to its close. The ratio is
// copy ÷ cat. Every output is checked line by line: each line is exactly one writer's line, and
// each writer's lines are all there, in its order — lines from different writers never merged.
//
// How the reader drains is measured from /proc/PID/io (read(2) calls and bytes, reader side),
// and from each writer's voluntary context switches (each is a write that found the pipe full).
// With `pipeSize`, the FIFO is made beforehand and held open by a perl one-liner that raised its
// buffer with F_SETPIPE_SZ (what a unit's ListenFIFO= with PipeSize= would do): the copy opens
// the existing FIFO and gets that bigger buffer.
import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, fsyncSync, openSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { withBenchKey } from './bench-key.mjs';
import { startCopy } from './copy-process.mjs';
import { waitForReader } from './copy-flood.mjs';
import { efficiency } from './efficiency.mjs';
import { linesFor } from './line-writer.mjs';

const BENCH = new URL('.', import.meta.url).pathname;
const CLI = join(BENCH, '..', 'dist', 'cli.mjs');
const execFileAsync = promisify(execFile);
/** Issue 14: into the copy, a writer takes at most this many times as long as into cat. */
export const WRITER_TARGET = 1.25;
const F_SETPIPE_SZ = 1031;

const availableLoad = () => loadavg()[0];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const exited = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));

function procIo(pid) {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1]);
  return { reads: field('syscr'), bytes: field('rchar') };
}

/** Starts `count` writers, each with its lines built, then lets them all go at once. */
async function runWriters(pipe, count, linesEach) {
  const writers = [];
  for (let w = 0; w < count; w += 1) {
    const child = spawn(process.execPath, [join(BENCH, 'line-writer.mjs'), pipe, String(linesEach), String(w)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise((resolve) => {
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.startsWith('ready\n')) resolve();
      });
    });
    writers.push({ child, ready, output: () => out.slice('ready\n'.length), done: exited(child) });
  }
  await Promise.all(writers.map((w) => w.ready));
  for (const w of writers) w.child.stdin.end('g');
  const codes = await Promise.all(writers.map((w) => w.done));
  if (codes.some((c) => c !== 0)) throw new Error(`a line writer exited ${codes.join(',')}`);
  const reports = writers.map((w) => JSON.parse(w.output()));
  const secs = reports.map((r) => Number(BigInt(r.closedAt) - BigInt(r.startedAt)) / 1e9);
  const first = reports.reduce((m, r) => (BigInt(r.startedAt) < m ? BigInt(r.startedAt) : m), BigInt(reports[0].startedAt));
  const last = reports.reduce((m, r) => (BigInt(r.closedAt) > m ? BigInt(r.closedAt) : m), 0n);
  return {
    bytes: reports.reduce((n, r) => n + r.bytes, 0),
    medianSeconds: median(secs),
    maxSeconds: Math.max(...secs),
    wholeSeconds: Number(last - first) / 1e9,
    blockedWrites: reports.reduce((n, r) => n + r.blocked, 0),
    writersCpuSeconds: reports.reduce((n, r) => n + r.cpuSeconds, 0),
  };
}

/**
 * Checks a plaintext output: every line is writer K's line i (`rid=K-i`), byte for byte, and
 * writer K's lines come in order 0, 1, 2, … with none missing. Returns a problem or null.
 */
export function checkUnmerged(output, writers, linesEach) {
  const expected = [];
  for (let w = 0; w < writers; w += 1) expected.push({ data: linesFor(linesEach, w), at: 0, next: 0 });
  let from = 0;
  while (from < output.length) {
    const end = output.indexOf(0x0a, from) + 1;
    if (end === 0) return `a last line without its newline at byte ${from}`;
    const rid = /rid=(\d+)-(\d+)\n$/.exec(output.toString('latin1', Math.max(from, end - 40), end));
    const w = rid === null ? -1 : Number(rid[1]);
    const e = expected[w];
    if (e === undefined || Number(rid[2]) !== e.next) return `line at byte ${from} is not the next line of any writer`;
    const lineEnd = e.data.indexOf(0x0a, e.at) + 1;
    if (output.compare(e.data, e.at, lineEnd, from, end) !== 0) return `line at byte ${from} differs from writer ${w}'s line ${e.next}`;
    e.at = lineEnd;
    e.next += 1;
    from = end;
  }
  const short = expected.findIndex((e) => e.next !== linesEach);
  return short < 0 ? null : `writer ${short}: ${expected[short].next} of ${linesEach} lines`;
}

/** A FIFO made here, its buffer raised by a process that holds it open until `release()`. */
async function biggerPipe(pipe, bytes) {
  await execFileAsync('mkfifo', ['-m', '600', pipe]);
  const script = 'open(my $f, "+<", $ARGV[0]) or die "open: $!"; fcntl($f, 0 + $ARGV[1], 0 + $ARGV[2]) or die "F_SETPIPE_SZ: $!"; print "ok\\n"; $| = 1; <STDIN>;';
  const holder = spawn('perl', ['-e', script, pipe, String(F_SETPIPE_SZ), String(bytes)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    holder.stdout.once('data', resolve);
    holder.once('exit', (code) => reject(new Error(`perl could not raise the pipe buffer (exit ${code})`)));
  });
  return { release: () => (holder.stdin.end(), exited(holder)) };
}

export async function intoCat(dir, writers, linesEach) {
  const pipe = join(dir, `w${writers}-cat.pipe`);
  const file = join(dir, `w${writers}-cat.log`);
  rmSync(pipe, { force: true });
  rmSync(file, { force: true });
  await execFileAsync('mkfifo', ['-m', '600', pipe]);
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  // cat exits at EOF: a write end held here keeps it reading until its /proc/PID/io is taken.
  const cat = spawn('cat', [pipe], { stdio: ['ignore', fd, 'inherit'] });
  const hold = openSync(pipe, constants.O_WRONLY);
  const io0 = procIo(cat.pid);
  const w = await runWriters(pipe, writers, linesEach);
  const io1 = procIo(cat.pid);
  closeSync(hold);
  await exited(cat);
  fsyncSync(fd);
  closeSync(fd);
  const problem = checkUnmerged(readFileSync(file), writers, linesEach);
  rmSync(file, { force: true });
  return { ...w, reads: io1.reads - io0.reads, readBytes: io1.bytes - io0.bytes, problem };
}

export async function intoCopy({ dir, key, writers, linesEach, pipeSize, cli = CLI }) {
  const pipe = join(dir, `w${writers}-copy${pipeSize ? '-big' : ''}.pipe`);
  const log = join(dir, `w${writers}-copy.log`);
  const path = join(dir, `w${writers}-copy.mjs`);
  rmSync(pipe, { force: true });
  rmSync(log, { force: true });
  await execFileAsync(process.execPath, [cli, 'encrypter', '--recipient-key', key.pub, '--pipe', pipe, '--pipe-mode', '600', '--output', log, '--save-path', path, '--log-level', 'warn', '--force']);
  const holder = pipeSize ? await biggerPipe(pipe, pipeSize) : null;
  const copy = await startCopy(path);
  await waitForReader(pipe);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const io0 = procIo(copy.pid);
  const cpu0 = readFileSync(`/proc/${copy.pid}/stat`, 'utf8');
  const w = await runWriters(pipe, writers, linesEach);
  const io1 = procIo(copy.pid);
  copy.kill('SIGTERM');
  const { code, cpuSeconds } = await copy.done;
  await holder?.release();
  if (code !== 0) throw new Error(`the copy exited ${code}`);
  const fields = cpu0.slice(cpu0.lastIndexOf(')') + 2).split(' ');
  const startupCpu = (Number(fields[11]) + Number(fields[12])) / 100;
  const out = join(dir, `w${writers}-copy.txt`);
  rmSync(out, { force: true });
  await execFileAsync(process.execPath, [CLI, 'decrypt', '--key', key.sec, '--quiet', '--output', out, log]);
  const problem = checkUnmerged(readFileSync(out), writers, linesEach);
  rmSync(out, { force: true });
  return { ...w, reads: io1.reads - io0.reads, readBytes: io1.bytes - io0.bytes, problem, log, copyCpuSeconds: cpuSeconds - startupCpu };
}

function rowOf(name, writers, linesEach, r) {
  return {
    into: name,
    writers,
    lines: writers * linesEach,
    MB: +(r.bytes / 1e6).toFixed(1),
    'writer s (median)': +r.medianSeconds.toFixed(3),
    'writer s (max)': +r.maxSeconds.toFixed(3),
    'all writers s': +r.wholeSeconds.toFixed(3),
    'blocked writes': r.blockedWrites,
    'reader reads': r.reads,
    'KiB per read': +(r.readBytes / Math.max(1, r.reads) / 1024).toFixed(1),
    'writers CPU s': +r.writersCpuSeconds.toFixed(3),
    ...(r.copyCpuSeconds === undefined ? {} : { 'copy CPU s': +r.copyCpuSeconds.toFixed(3) }),
    unmerged: r.problem === null,
  };
}

/**
 * The least ratio any reader that seals could reach here, whatever its code: the writers need the
 * CPU they used into `cat`, the reader at least its primitives' CPU for the same bytes (zlib level
 * 1, AES, SHA-1, base64 at the meter's cost, `primitivesMsPerMB`), and both share the machine's
 * cores. So the writers' span into the copy is at least their CPU plus the primitives', spread over
 * every core, and never shorter than into `cat`. Above 1.25 the target cannot be met on this
 * machine by any implementation; near it, only by one that costs no more than its primitives and
 * keeps every core busy.
 */
export function ratioFloor(cat, primitivesMsPerMB, cores = availableParallelism()) {
  const needed = (cat.writersCpuSeconds + (primitivesMsPerMB * cat.bytes) / 1e9) / cores;
  return +(Math.max(cat.wholeSeconds, needed) / cat.wholeSeconds).toFixed(2);
}

/**
 * Runs 1 and `many` writers into cat and into the copy (and, with `pipeSize`, into the copy with
 * that pipe buffer); returns the rows, the ratios and target 1's per-line efficiency row (the
 * copy's CPU for the single writer's input against its primitives).
 */
export async function writerSlowdown({ dir, key, lines = 300_000, many = 8, manyLines = 100_000, pipeSize = 1 << 20 }) {
  const rows = [];
  const ratios = {};
  let perLine = null;
  for (const [writers, linesEach] of [[1, lines], [many, manyLines]]) {
    const cat = await intoCat(dir, writers, linesEach);
    const copy = await intoCopy({ dir, key, writers, linesEach });
    rows.push(rowOf('cat', writers, linesEach, cat), rowOf('copy', writers, linesEach, copy));
    if (writers === 1) perLine = await efficiency({ shape: 'one write per line', dir, sec: key.sec, log: copy.log, lines: linesEach, writer: 0, copyCpuSeconds: copy.copyCpuSeconds });
    ratios[`${writers} writer${writers > 1 ? 's' : ''}`] = {
      median: +(copy.medianSeconds / cat.medianSeconds).toFixed(2),
      max: +(copy.maxSeconds / cat.maxSeconds).toFixed(2),
      whole: +(copy.wholeSeconds / cat.wholeSeconds).toFixed(2),
      floor: ratioFloor(cat, perLine.primitivesCpuMsPerMB),
      target: WRITER_TARGET,
    };
    if (pipeSize) {
      const big = await intoCopy({ dir, key, writers, linesEach, pipeSize });
      rows.push(rowOf(`copy, pipe buffer ${pipeSize >> 10} KiB`, writers, linesEach, big));
      ratios[`${writers} writer${writers > 1 ? 's' : ''}, pipe ${pipeSize >> 10} KiB`] = { median: +(big.medianSeconds / cat.medianSeconds).toFixed(2), max: +(big.maxSeconds / cat.maxSeconds).toFixed(2), target: WRITER_TARGET };
    }
  }
  return { rows, ratios, perLine, unmerged: rows.every((r) => r.unmerged) };
}

// Alone, target 2 only, several builds in alternating rounds (each round: cat, then every build):
//   node bench/writers.mjs --rounds 3 --cli /tmp/base/dist/cli.mjs --cli dist/cli.mjs
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, lines: { type: 'string', default: '300000' }, many: { type: 'string', default: '8' }, 'many-lines': { type: 'string', default: '100000' }, cli: { type: 'string', multiple: true } } });
  const clis = opts.cli ?? [CLI];
  // --many-lines 0: the single writer only.
  const shapes = [[1, Number(opts.lines)], [Number(opts.many), Number(opts['many-lines'])]].filter(([, n]) => n > 0);
  await withBenchKey('pp-writers-', async (dir, key) => {
    const ratios = Object.fromEntries(clis.map((cli) => [cli, shapes.map(() => [])]));
    for (let round = 0; round < Number(opts.rounds); round += 1) {
      for (const [s, [writers, linesEach]] of shapes.entries()) {
        const cat = await intoCat(dir, writers, linesEach);
        if (cat.problem !== null) throw new Error(`cat: ${cat.problem}`);
        for (const cli of clis) {
          const copy = await intoCopy({ dir, key, writers, linesEach, cli });
          if (copy.problem !== null) throw new Error(`${cli}: ${copy.problem}`);
          const ratio = +(copy.medianSeconds / cat.medianSeconds).toFixed(2);
          ratios[cli][s].push(ratio);
          console.log(JSON.stringify({ round, writers, cli, cat: +cat.medianSeconds.toFixed(3), copy: +copy.medianSeconds.toFixed(3), ratio, blocked: copy.blockedWrites, catBlocked: cat.blockedWrites, reads: copy.reads, kibPerRead: +(copy.readBytes / Math.max(1, copy.reads) / 1024).toFixed(1), copyCpu: +copy.copyCpuSeconds.toFixed(3), load: +availableLoad().toFixed(2) }));
        }
      }
    }
    for (const cli of clis) for (const [s, [writers]] of shapes.entries()) {
      const xs = ratios[cli][s];
      console.log(`${cli}: ${writers} writer(s): median ${median(xs)}, range ${Math.min(...xs)}–${Math.max(...xs)} (${xs.join(', ')})`);
    }
  });
}
