/**
 * The drain thread's own side (runtime/drain-thread.ts has the loop's side and says why it
 * exists): its program, and the words in shared memory both sides use.
 *
 * The thread reads the pipe only while STATE is RUN; it parks itself (STATE PARKED) once the
 * pipe stayed empty `quietMs`, and when the loop asks (PARK_ASKED). It writes into the ring only
 * where the loop has taken everything (TAKEN), so a byte is never overwritten before it was
 * handed on.
 */

/** Control words in shared memory (Int32). */
export const STATE = 0;
/** Bytes written into / taken from the ring since it was made, modulo 2^32. */
export const WRITTEN = 1;
export const TAKEN = 2;
/** The loop waits (Atomics.waitAsync on SEQ) to be told of bytes or a park. */
export const WANT = 3;
export const SEQ = 4;
export const WORDS = 8;

export const PARKED = 0;
export const RUN = 1;
export const PARK_ASKED = 2;

/** One read at most: the pipe's default buffer. */
const READ_MAX = 64 * 1024;

/** The thread's whole program (it runs from this string: the copy is one file, with no worker file beside it). */
export const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { fd, control, ring, quietMs, napMs, tellAtBytes, tellAfterMs } = workerData;
const ctl = new Int32Array(control);
const buf = Buffer.from(ring);
const size = buf.length;
const nap = new Int32Array(new SharedArrayBuffer(4));
// EAGAIN ends every quiet look at the pipe: its stack trace is never read.
Error.stackTraceLimit = 0;
// The loop is told of bytes once a good piece has come (each wake-up costs it a trip through
// the event loop), or when the pipe has run dry, the ring is full, or the thread parks; and
// once bytes have waited tellAfterMs: a writer adding a little more often than the nap never
// lets the pipe run dry, and its lines would wait for a ringful (seconds at a few KB/s).
let untoldSince = -1;
function tell(held) {
  if (Atomics.load(ctl, ${WANT}) === 0) return;
  if (held < tellAtBytes && (untoldSince < 0 || performance.now() - untoldSince < tellAfterMs)) return;
  untoldSince = -1;
  Atomics.store(ctl, ${WANT}, 0);
  Atomics.add(ctl, ${SEQ}, 1);
  Atomics.notify(ctl, ${SEQ});
}
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(ctl, ${STATE}, ${PARKED});
  let quietSince = performance.now();
  let failed = null;
  while (Atomics.load(ctl, ${STATE}) === ${RUN}) {
    const written = Atomics.load(ctl, ${WRITTEN});
    const taken = Atomics.load(ctl, ${TAKEN});
    const free = size - ((written - taken) | 0);
    if (free === 0) {
      // Full: the copy is behind. Read nothing more; the writers wait on the pipe.
      tell(size);
      Atomics.wait(ctl, ${TAKEN}, taken, 50);
      quietSince = performance.now();
      continue;
    }
    const at = written & (size - 1);
    const asked = Math.min(free, size - at, ${READ_MAX});
    let n = 0;
    try {
      n = readSync(fd, buf, at, asked, null);
    } catch (err) {
      if (err.code !== 'EAGAIN') {
        failed = err.code || String(err);
        break;
      }
    }
    const now = performance.now();
    if (n > 0) {
      Atomics.store(ctl, ${WRITTEN}, (written + n) | 0);
      if (untoldSince < 0) untoldSince = now;
      tell(size - free + n);
      quietSince = now;
      // A read shorter than asked emptied the pipe: another at once would find little or
      // nothing (an EAGAIN, whose error costs more than the read). A nap lets the writers refill
      // it: one read then takes what they wrote meanwhile.
      if (n < asked) Atomics.wait(nap, 0, 0, napMs);
      continue;
    }
    if (size - free > 0) tell(size);
    if (now - quietSince >= quietMs) break;
    Atomics.wait(nap, 0, 0, napMs);
  }
  Atomics.store(ctl, ${STATE}, ${PARKED});
  Atomics.notify(ctl, ${STATE});
  Atomics.store(ctl, ${WANT}, 1);
  tell(size);
  if (failed !== null) parentPort.postMessage({ failed });
}
`;
