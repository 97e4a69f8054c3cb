// Benchmark writer: builds COUNT varied nginx lines in memory first (so generating them is not
// timed), then writes them into PIPE in chunks of whole lines up to 64 KiB and prints JSON:
// bytes, lines, the hrtime (ns) of the first write and of the close. With REPEAT, writes the
// same lines that many times (for the memory flood, where only the volume matters).
// Usage: node flood-writer.mjs PIPE COUNT [SEED] [REPEAT]
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { nginxLines } from './nginx-lines.mjs';

const [pipe, count, seed, repeat] = process.argv.slice(2);
const data = nginxLines(Number(count), Number(seed ?? 1));
const CHUNK = 64 * 1024;
const fd = openSync(pipe, constants.O_WRONLY);
const startedAt = process.hrtime.bigint();
const times = Number(repeat ?? 1);
for (let round = 0; round < times; round += 1) {
  for (let at = 0; at < data.length; ) {
    let end = Math.min(at + CHUNK, data.length);
    if (end < data.length) end = data.lastIndexOf(0x0a, end - 1) + 1;
    for (let done = at; done < end; ) done += writeSync(fd, data, done, end - done);
    at = end;
  }
}
closeSync(fd);
const closedAt = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ bytes: data.length * times, lines: Number(count) * times, startedAt: String(startedAt), closedAt: String(closedAt) }));
