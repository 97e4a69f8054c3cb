// A service that logs to a plain file: opens it O_APPEND|O_CREAT (mode 640) and keeps it open,
// writes `count` lines `writer=ID seq=N xxx…`, one write(2) each, pausing PAUSE_MS after every
// EVERY lines, and reopens the path on SIGHUP (what logrotate's postrotate asks of a service).
// Prints "ready" on stdout once it holds the file, and the number of lines written at the end.
// Usage: node file-writer.mjs FILE WRITER_ID COUNT [EVERY] [PAUSE_MS] [FIRST_SEQ]
import { closeSync, constants, openSync, writeSync } from 'node:fs';

const [file, id, count, every = '50', pause = '2', first = '0'] = process.argv.slice(2);
const open = () => openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
let fd = open();
let reopen = false;
process.on('SIGHUP', () => {
  reopen = true;
});
process.stdout.write('ready\n');
const padding = 'x'.repeat(40);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let written = 0;
for (let i = Number(first); i < Number(first) + Number(count); i += 1) {
  if (reopen) {
    reopen = false;
    closeSync(fd);
    fd = open();
  }
  writeSync(fd, `writer=${id} seq=${i} ${padding}\n`);
  written += 1;
  if (written % Number(every) === 0) await sleep(Number(pause));
}
closeSync(fd);
process.stdout.write(`${written}\n`);
