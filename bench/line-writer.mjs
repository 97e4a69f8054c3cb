// A writer like nginx: one write(2) per line (issue 14, target 2). Builds its lines first, says
// "ready" on stdout, waits for one byte on stdin (so several writers start together), then writes
// and prints JSON: bytes, lines, the hrtime (ns) of its first write and of its close, how often it
// blocked (voluntary context switches: each is a write that found the pipe full) and the CPU
// seconds its writes took (user and system: what the writer itself needs of the machine's cores).
// Usage: node line-writer.mjs PIPE COUNT WRITER
//
// Writer K's lines carry `rid=K-i` (its own number K, the line's index i): the bench finds every
// line's writer in the output, so a line merged from two writers' bytes cannot pass unseen.
import { closeSync, constants, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { nginxLine, nginxLines, random } from './nginx-lines.mjs';

/** COUNT lines of writer WRITER (null: the flood's untagged lines, nginxLines(count, 1)). */
export function linesFor(count, writer) {
  if (writer === null) return nginxLines(count, 1);
  const rnd = random(1000 + writer);
  const parts = new Array(count);
  for (let i = 0; i < count; i += 1) parts[i] = nginxLine(`${writer}-${i}`, rnd);
  return Buffer.from(parts.join(''), 'utf8');
}

function voluntarySwitches() {
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? NaN);
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [pipe, count, writer] = process.argv.slice(2);
  const data = linesFor(Number(count), Number(writer));
  const ends = [];
  for (let at = data.indexOf(0x0a); at >= 0; at = data.indexOf(0x0a, at + 1)) ends.push(at + 1);
  const fd = openSync(pipe, constants.O_WRONLY);
  process.stdout.write('ready\n');
  readSync(0, Buffer.alloc(1));
  const switches0 = voluntarySwitches();
  const cpu0 = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  let from = 0;
  for (const end of ends) {
    // Lines are far below PIPE_BUF: one write(2) takes each whole, or blocks until it can.
    writeSync(fd, data, from, end - from);
    from = end;
  }
  closeSync(fd);
  const closedAt = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const blocked = voluntarySwitches() - switches0;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({ writer: Number(writer), bytes: data.length, lines: ends.length, startedAt: String(startedAt), closedAt: String(closedAt), blocked, cpuSeconds }));
}
