// A writer that dies in the middle of a line, as a service killed by SIGKILL does: opens PIPE,
// writes COUNT whole lines and then the first half of one more in a single write(2), creates
// READY_FILE, and waits to be killed (it never writes the rest of that line).
// Usage: node half-line-writer.mjs PIPE COUNT HALF_LINE READY_FILE
import { constants, openSync, writeFileSync, writeSync } from 'node:fs';

const [pipe, count, half, ready] = process.argv.slice(2);
const fd = openSync(pipe, constants.O_WRONLY);
let text = '';
for (let i = 0; i < Number(count); i += 1) text += `writer=killed seq=${i} ${'x'.repeat(40)}\n`;
writeSync(fd, text + half);
writeFileSync(ready, '');
setInterval(() => {}, 60_000);
