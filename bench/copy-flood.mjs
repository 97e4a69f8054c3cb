// A flood through a generated copy: the writer process (bench/flood-writer.mjs, 64 KiB writes of
// whole lines), the copy's peak RSS, its wall time until every line is durable, and its CPU time.
// Shared by run.mjs (throughput and memory rows) and cores.mjs (pinned to 1 and 2 cores).
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cpuByThread, cpuSecondsNow, startCopy } from './copy-process.mjs';

const BENCH = new URL('.', import.meta.url).pathname;
const execFileAsync = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => process.hrtime.bigint();
const seconds = (from, to) => Number(to - from) / 1e9;

/** Until something reads `path`: a non-blocking open for writing fails with ENXIO before. */
export async function waitForReader(path, ms = 10_000, child = null) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      return;
    } catch {
      // A copy that exited at start never reads: say so now rather than at the deadline.
      if (child !== null && child.exitCode !== null) throw new Error(`the copy exited ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`nothing reads ${path}`);
      await sleep(1);
    }
  }
}

/** Runs the flood writer to completion; returns its report (startedAt as bigint). */
export async function flood(pipe, lines, repeat = 1) {
  const { stdout } = await execFileAsync(process.execPath, [join(BENCH, 'flood-writer.mjs'), pipe, String(lines), '1', String(repeat)], { maxBuffer: 1 << 20 });
  const report = JSON.parse(stdout);
  return { ...report, startedAt: BigInt(report.startedAt), closedAt: BigInt(report.closedAt) };
}

/** Peak RSS of a running process, sampled from /proc (VmHWM is the kernel's own high-water mark). */
export function rssWatcher(pid) {
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // gone
    }
  }, 20);
  return { stop: () => (clearInterval(timer), peakKb / 1024) };
}

/**
 * Floods a started copy; SIGTERM after the writer closed makes it take what is in the pipe, seal
 * it, fdatasync and write its stream-end (it never sees EOF: it holds its own write end). Its exit
 * is the moment every line is durable. `cpus`: taskset list for the copy (null: not pinned).
 */
export async function copyFlood(copyPath, pipe, lines, { repeat = 1, cpus = null } = {}) {
  const copy = await startCopy(copyPath, { cpus });
  await waitForReader(pipe);
  await sleep(200); // the stream-start block is sealed; start-up is not part of the flood's CPU
  const startupCpu = cpuSecondsNow(copy.pid);
  const threads0 = cpuByThread(copy.pid);
  const rss = rssWatcher(copy.pid);
  const w = await flood(pipe, lines, repeat);
  // Where the CPU went, thread by thread, up to the writer's close (the last pipeful is not in it).
  const threads1 = cpuByThread(copy.pid);
  const threads = Object.fromEntries(Object.entries(threads1).map(([name, s]) => [name, +(s - (threads0[name] ?? 0)).toFixed(2)]));
  copy.kill('SIGTERM');
  const { code, cpuSeconds } = await copy.done;
  const end = now();
  const peakRssMb = rss.stop();
  if (code !== 0) throw new Error(`the copy exited ${code}`);
  const secs = seconds(w.startedAt, end);
  // CPU of the flood alone: all of the copy's threads, minus what start-up had used.
  return { bytes: w.bytes, seconds: secs, peakRssMb, cpuSeconds: +(cpuSeconds - startupCpu).toFixed(3), startupCpuSeconds: startupCpu, threads, writerSeconds: seconds(w.startedAt, w.closedAt) };
}
