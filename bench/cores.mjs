// Issue 14, target 3: does sealing scale with cores? The same flood (bench/flood-writer.mjs,
// 64 KiB writes) into the copy pinned with `taskset -c 0` (1 core) and `-c 0,1` (2 cores),
// alternating, `rounds` times each. The writer is not pinned. For each: the rate, the copy's CPU
// (all threads, from its rusage) and how many cores it kept busy on average, and its CPU by
// thread (event loop, thread pool, V8's helpers) up to the writer's close.
import { copyFlood } from './copy-flood.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs)}–${Math.max(...xs)}`;

export async function cores({ copyPath, pipe, lines, rounds = 2, sets = ['0', '0,1'] }) {
  const runs = Object.fromEntries(sets.map((s) => [s, []]));
  for (let r = 0; r < rounds; r += 1) {
    for (const cpus of sets) {
      const f = await copyFlood(copyPath, pipe, lines, { cpus });
      runs[cpus].push({ MBps: +(f.bytes / 1e6 / f.seconds).toFixed(1), cpuSeconds: f.cpuSeconds, busyCores: +(f.cpuSeconds / f.seconds).toFixed(2), threads: f.threads, MB: f.bytes / 1e6 });
    }
  }
  return sets.map((cpus) => {
    const rs = runs[cpus];
    return {
      cores: cpus.split(',').length,
      taskset: cpus,
      'MB/s': median(rs.map((x) => x.MBps)),
      'MB/s range': spread(rs.map((x) => x.MBps)),
      'copy CPU s': median(rs.map((x) => x.cpuSeconds)),
      'CPU ms/MB': +((median(rs.map((x) => x.cpuSeconds)) * 1000) / rs[0].MB).toFixed(1),
      'busy cores': median(rs.map((x) => x.busyCores)),
      threads: rs[rs.length - 1].threads,
    };
  });
}
