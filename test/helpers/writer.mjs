// A log writer process: opens the pipe like a service would (blocking, write-only) and writes
// `count` lines, one write(2) per line, each tagged with its writer id and sequence number.
// Prints how many lines the kernel accepted; stops early (exit 0) when the reader goes away (EPIPE).
// With READY_FILE, creates that file once its first line was accepted.
// PAD_BYTES "varied": lines of varied length up to 4096 bytes (PIPE_BUF), each saying its padding
// length (`len=N`), so a reader can check every line is whole.
// Usage: node writer.mjs PIPE WRITER_ID COUNT [PAD_BYTES|varied] [FIRST_SEQ] [READY_FILE]
import { closeSync, constants, openSync, writeFileSync, writeSync } from 'node:fs';

const [pipe, id, count, pad = '40', first = '0', ready] = process.argv.slice(2);
// No O_CREAT: if the pipe is gone, fail instead of writing into a new regular file.
const fd = openSync(pipe, constants.O_WRONLY);
const padding = 'x'.repeat(Number(pad) || 0);
/** One line in 32 close to 4096 bytes, the rest up to 200: mostly small, as real logs are. */
const variedLine = (i) => {
  const len = i % 32 === 0 ? 4000 + (i % 50) : (i * 7 + id.length * 13) % 200;
  return `writer=${id} seq=${i} len=${len} ${'x'.repeat(len)}\n`;
};
let written = 0;
try {
  for (let i = Number(first); i < Number(first) + Number(count); i += 1) {
    writeSync(fd, pad === 'varied' ? variedLine(i) : `writer=${id} seq=${i} ${padding}\n`);
    written += 1;
    if (written === 1 && ready) writeFileSync(ready, '');
  }
} catch (err) {
  if (err.code !== 'EPIPE') throw err;
}
closeSync(fd);
process.stdout.write(`${written}\n`);
