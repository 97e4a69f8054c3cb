// Latency probe: writes one line into PIPE every INTERVAL_MS for COUNT lines and, for each,
// waits until LOG grows (inotify via fs.watch, confirmed by fstat), i.e. until the copy has
// appended the encrypted block. Prints JSON with every latency in ms.
// Usage: node latency-writer.mjs PIPE LOG COUNT INTERVAL_MS
import { closeSync, constants, fstatSync, openSync, watch, writeSync } from 'node:fs';
import { nginxLine } from './nginx-lines.mjs';

const [pipe, log, count, interval] = process.argv.slice(2);
const n = Number(count);
const every = Number(interval);
const pipeFd = openSync(pipe, constants.O_WRONLY);
const logFd = openSync(log, constants.O_RDONLY);
let grew = null;
const watcher = watch(log, () => grew?.());
const size = () => fstatSync(logFd).size;
const rnd = Math.random;
const latencies = [];
const start = performance.now();
for (let i = 0; i < n; i += 1) {
  const due = start + i * every;
  while (performance.now() < due) await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now() - 1)));
  const before = size();
  const line = nginxLine(i, rnd);
  const t0 = performance.now();
  writeSync(pipeFd, line);
  while (size() === before) {
    await new Promise((resolve) => {
      grew = resolve;
      setTimeout(resolve, 50); // a missed event must not hang the probe
    });
  }
  latencies.push(performance.now() - t0);
}
watcher.close();
closeSync(pipeFd);
closeSync(logFd);
process.stdout.write(JSON.stringify({ latencies }));
