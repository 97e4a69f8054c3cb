// The floor under the trickle figure: what any Node.js reader pays per burst just to be woken,
// read the pipe and make the bytes durable, with no encryption at all. Same pipe handling as the
// copy (runtime/copy-session.ts): an epoll socket wakes it at a burst's first chunk; it then
// sleeps on its own thread in 1 ms steps (Atomics.wait) until a step brings nothing or 2 ms have
// passed, reading the pipe after each step until a short read; then one write(2) of the
// plaintext and one fdatasync on the thread pool.
// With `nosync`, no fdatasync: what durability itself costs is the difference. With `mainsync`,
// fdatasync runs on the event loop's own thread: no thread-pool hand-over and no wake-up for its
// completion (1.9 fewer context switches per burst here), at the price of a blocked loop meanwhile.
// Usage: node floor-reader.mjs PIPE OUT [sync|nosync|mainsync]   (stops on SIGTERM)
import { closeSync, constants, fdatasync, fdatasyncSync, openSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

const [pipePath, outPath, mode] = process.argv.slice(2);
const sync = mode !== 'nosync';
const GATHER_MS = 2;
const QUIET_MS = 1;
const fd = openSync(pipePath, constants.O_RDWR | constants.O_NONBLOCK);
const out = openSync(outPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
const readBuf = Buffer.allocUnsafe(64 * 1024);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let pending = [];
let syncing = false;
const drain = () => {
  let total = 0;
  for (;;) {
    let n;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      n = readSync(fd, readBuf, 0, readBuf.length, null);
    } catch {
      return total;
    } finally {
      Error.stackTraceLimit = limit;
    }
    if (n <= 0) return total;
    total += n;
    pending.push(Buffer.from(readBuf.subarray(0, n)));
    if (n < readBuf.length) return total;
  }
};
const flush = () => {
  if (syncing || pending.length === 0) return;
  const block = pending.length === 1 ? pending[0] : Buffer.concat(pending);
  pending = [];
  writeSync(out, block);
  if (!sync) return;
  if (mode === 'mainsync') {
    fdatasyncSync(out);
    return;
  }
  syncing = true;
  fdatasync(out, () => {
    syncing = false;
  });
};
new Socket({
  fd,
  readable: true,
  writable: false,
  allowHalfOpen: true,
  onread: {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (n, buf) => {
      pending.push(Buffer.from(buf.subarray(0, n)));
      const until = performance.now() + GATHER_MS;
      for (let left = GATHER_MS; left > 0; left = until - performance.now()) {
        Atomics.wait(sleeper, 0, 0, Math.min(QUIET_MS, left));
        if (drain() === 0) break;
      }
      flush();
    },
  },
});
process.on('SIGTERM', () => {
  drain();
  if (pending.length > 0) writeSync(out, Buffer.concat(pending));
  closeSync(out);
  process.exit(0);
});
