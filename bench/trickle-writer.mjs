// Trickle writer: the shape of a busy web server. Every BURST_MS it writes the next
// RATE * BURST_MS / 1000 nginx lines into PIPE, one write(2) per line as nginx does, until
// SECONDS have passed. Meanwhile it watches LOG (inotify via fs.watch, confirmed by fstat) and
// notes when it grew and to what size. Both clocks are this process's, so the bench can match
// every line to the moment the block holding it was appended.
// Prints JSON: bursts [first line index, ms], growth [ms, size], lines, bytes.
// Usage: node trickle-writer.mjs PIPE LOG SECONDS RATE BURST_MS SEED
import { closeSync, constants, fstatSync, openSync, watch, writeSync } from 'node:fs';
import { nginxLines } from './nginx-lines.mjs';

const [pipe, log, secondsArg, rateArg, burstArg, seedArg] = process.argv.slice(2);
const burstMs = Number(burstArg);
const perBurst = Math.round((Number(rateArg) * burstMs) / 1000);
const bursts = Math.round((Number(secondsArg) * 1000) / burstMs);
const data = nginxLines(perBurst * bursts, Number(seedArg));
// Line boundaries, so each line is one write.
const ends = [];
for (let at = data.indexOf(10); at >= 0; at = data.indexOf(10, at + 1)) ends.push(at + 1);

const pipeFd = openSync(pipe, constants.O_WRONLY);
const logFd = openSync(log, constants.O_RDONLY);
const growth = [];
let lastSize = fstatSync(logFd).size;
const noteGrowth = () => {
  const size = fstatSync(logFd).size;
  if (size !== lastSize) {
    lastSize = size;
    growth.push([performance.now(), size]);
  }
};
const watcher = watch(log, noteGrowth);
const burstLog = [];
const start = performance.now();
let line = 0;
let from = 0;
for (let b = 0; b < bursts; b += 1) {
  const due = start + b * burstMs;
  while (performance.now() < due) await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now() - 1)));
  burstLog.push([line, performance.now()]);
  for (let i = 0; i < perBurst; i += 1) {
    const end = ends[line];
    for (let done = from; done < end; ) done += writeSync(pipeFd, data, done, end - done);
    from = end;
    line += 1;
  }
}
// Let the last block land.
const until = performance.now() + 500;
while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
noteGrowth();
watcher.close();
closeSync(pipeFd);
closeSync(logFd);
process.stdout.write(JSON.stringify({ perBurst, lines: line, bytes: data.length, startedAt: start, bursts: burstLog, growth }));
