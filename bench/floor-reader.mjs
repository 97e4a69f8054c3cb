// The floor under the trickle figure: what any Node.js reader pays per burst just to be woken,
// read the pipe and make the bytes durable, with no encryption at all. Same pipe handling as the
// copy (epoll socket, reading paused for 2 ms after a burst's first chunk, then drained), then
// one write(2) of the plaintext and one fdatasync on the thread pool.
// With `nosync`, no fdatasync: what durability itself costs is the difference.
// Usage: node floor-reader.mjs PIPE OUT [nosync]   (stops on SIGTERM)
import { closeSync, constants, fdatasync, openSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

const [pipePath, outPath, mode] = process.argv.slice(2);
const sync = mode !== 'nosync';
const fd = openSync(pipePath, constants.O_RDWR | constants.O_NONBLOCK);
const out = openSync(outPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
const readBuf = Buffer.allocUnsafe(64 * 1024);
let pending = [];
let timer = null;
let syncing = false;
const drain = () => {
  for (;;) {
    let n;
    try {
      n = readSync(fd, readBuf, 0, readBuf.length, null);
    } catch {
      return;
    }
    if (n <= 0) return;
    pending.push(Buffer.from(readBuf.subarray(0, n)));
  }
};
const flush = () => {
  timer = null;
  drain();
  socket.resume();
  if (syncing || pending.length === 0) return;
  const block = Buffer.concat(pending);
  pending = [];
  writeSync(out, block);
  if (!sync) return;
  syncing = true;
  fdatasync(out, () => {
    syncing = false;
  });
};
const socket = new Socket({
  fd,
  readable: true,
  writable: false,
  allowHalfOpen: true,
  onread: {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (n, buf) => {
      pending.push(Buffer.from(buf.subarray(0, n)));
      if (timer === null) {
        socket.pause();
        timer = setTimeout(flush, 2);
      }
    },
  },
});
process.on('SIGTERM', () => {
  drain();
  if (pending.length > 0) writeSync(out, Buffer.concat(pending));
  closeSync(out);
  process.exit(0);
});
