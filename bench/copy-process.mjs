// A generated copy started for a benchmark, with its exact CPU time when it exits.
//
// Why a bash wrapper: /proc/PID/stat vanishes the moment the copy is reaped, and the last part of
// a flood (draining the pipe after SIGTERM, sealing, fdatasync, the stream-end) would be lost
// between the last sample and the exit. bash waits for the copy and prints its rusage with the
// `times` builtin: user and system seconds of every thread of the copy, as wait4(2) reports them
// (plus the one short `mkfifo` it runs at start). With `cpus`, `taskset -c` pins bash and so
// the copy to those cores.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** "1m2.345s" → 62.345 */
function bashSeconds(text) {
  const m = /^(\d+)m([\d.]+)s$/.exec(text);
  if (m === null) throw new Error(`unexpected times output: ${text}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Parses `times`: its second line holds the children's user and system time. */
export function parseTimes(stdout) {
  const lines = stdout.trim().split('\n');
  const [user, system] = (lines.at(-1) ?? '').trim().split(/\s+/).map(bashSeconds);
  return { userSeconds: user, systemSeconds: system, cpuSeconds: +(user + system).toFixed(3) };
}

/** utime + stime of a live process, in seconds (USER_HZ is 100 on Linux). */
export function cpuSecondsNow(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of a live process's main thread (the event loop: all JavaScript, and the sync
 * parts of crypto and zlib) and of all its other threads together (the libuv thread pool's
 * deflate and fdatasync, V8's compiler and garbage-collector helpers). Node 20 does not name its
 * threads, so they are told apart by thread id only.
 */
export function cpuByThread(pid) {
  const out = { main: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[Number(tid) === pid ? 'main' : 'others'] += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Starts `argv` under the wrapper. Resolves once its pid is known, to
 *   { pid, kill(signal), done: Promise<{ code, cpuSeconds, userSeconds, systemSeconds }> }.
 * Its stderr goes to the bench's; its stdout is not kept (the wrapper's is).
 */
export async function startTimed(argv, { cpus = null, env = process.env } = {}) {
  // The command's own stdout goes nowhere: only `times` writes to the wrapper's.
  const script = '"$@" >/dev/null; rc=$?; times; exit $rc';
  const full = cpus === null ? ['bash', '-c', script, 'bash', ...argv] : ['taskset', '-c', cpus, 'bash', '-c', script, 'bash', ...argv];
  const shell = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env });
  let stdout = '';
  shell.stdout.on('data', (chunk) => (stdout += chunk));
  const done = new Promise((resolve, reject) => {
    shell.on('error', reject);
    shell.on('exit', (code) => {
      try {
        resolve({ code, ...parseTimes(stdout) });
      } catch (err) {
        reject(err);
      }
    });
  });
  done.catch(() => {});
  let pid = null;
  for (let i = 0; i < 2000 && pid === null; i += 1) {
    try {
      const children = readFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`, 'utf8').trim();
      if (children !== '') pid = Number(children.split(' ')[0]);
    } catch {
      // not yet, or taskset has not exec'd bash yet
    }
    if (pid === null) {
      if (shell.exitCode !== null) break;
      await sleep(1);
    }
  }
  if (pid === null) {
    shell.kill('SIGKILL');
    throw new Error(`${argv[0]} did not start (${(await done.catch((e) => e)).code ?? 'no exit code'})`);
  }
  return { pid, kill: (signal = 'SIGTERM') => process.kill(pid, signal), done };
}

/** The generated copy at `copyPath` under the wrapper; `nodeArgs` run it through node with them. */
export function startCopy(copyPath, { cpus = null, nodeArgs = [] } = {}) {
  return startTimed(nodeArgs.length > 0 ? [process.execPath, ...nodeArgs, copyPath] : [copyPath], { cpus });
}
