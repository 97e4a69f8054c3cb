// A log writer process: opens the pipe like a service would (blocking, write-only) and writes
// `count` lines, one write(2) per line, each tagged with its writer id and sequence number.
// Prints how many lines the kernel accepted; stops early (exit 0) when the reader goes away (EPIPE).
// Usage: node writer.mjs PIPE WRITER_ID COUNT [PAD_BYTES]
import { closeSync, openSync, writeSync } from 'node:fs';

const [pipe, id, count, pad = '40'] = process.argv.slice(2);
const fd = openSync(pipe, 'w');
const padding = 'x'.repeat(Number(pad));
let written = 0;
try {
  for (let i = 0; i < Number(count); i += 1) {
    writeSync(fd, `writer=${id} seq=${i} ${padding}\n`);
    written += 1;
  }
} catch (err) {
  if (err.code !== 'EPIPE') throw err;
}
closeSync(fd);
process.stdout.write(`${written}\n`);
