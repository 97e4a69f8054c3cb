// A writer that keeps the pipe open across a change of the pipe path, as a long-running service
// does: opens PIPE once, writes COUNT lines, creates GO_FILE.ready, waits until GO_FILE exists,
// writes COUNT more.
// Usage: node hold-writer.mjs PIPE WRITER_ID COUNT GO_FILE
import { closeSync, constants, existsSync, openSync, writeFileSync, writeSync } from 'node:fs';

const [pipe, id, count, go] = process.argv.slice(2);
const fd = openSync(pipe, constants.O_WRONLY);
const n = Number(count);
for (let i = 0; i < n; i += 1) writeSync(fd, `writer=${id} seq=${i} ${'x'.repeat(40)}\n`);
writeFileSync(`${go}.ready`, '');
while (!existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 10));
for (let i = n; i < 2 * n; i += 1) writeSync(fd, `writer=${id} seq=${i} ${'x'.repeat(40)}\n`);
closeSync(fd);
