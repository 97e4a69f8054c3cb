import { Worker } from 'node:worker_threads';
import type { Logger } from './log.ts';
import { PARK_ASKED, PARKED, RUN, SEQ, STATE, TAKEN, WANT, WORDS, WORKER_SOURCE, WRITTEN } from './drain-worker.ts';

/**
 * A thread that only drains the pipe, in a flood (issue 14, target 2).
 *
 * The copy's event loop both reads the pipe and seals. Whenever it is busy longer than a writer
 * takes to fill the pipe's 64 KiB (half a millisecond at 140 MB/s), the writer blocks, although
 * the copy as a whole could keep up. While reading engages it (a flood of short reads, writers
 * writing a line per write(2): runtime/reading.ts), this thread reads the same pipe into a ring in
 * shared memory and the loop takes the bytes from the ring when it has time; a writer then waits
 * only when the ring is full, that is when the copy as a whole falls behind. Under a trickle it is
 * never engaged (it would add a thread wake-up to every burst), nor in a flood of 64 KiB writes
 * (every read a full pipe: the writer waits for sealing, not for the loop), and once a flood has
 * been over for a while it ends, so an idle copy holds neither its thread nor its ring.
 *
 * - One reader at a time. The thread reads the copy's own descriptor (same pipe, same
 *   non-blocking open file description), only while engaged; the loop reads it only while the
 *   thread is parked. A blocking descriptor of its own (`/proc/self/fd/N`) could not be left
 *   when the flood ends or the copy stops: a read waiting for a writer cannot be interrupted,
 *   and a second reader kept open would let writes land after the copy closed its end.
 * - Pipe order. Bytes enter the ring in the order read(2) returns them and leave it in that order;
 *   the loop takes the ring empty before it reads the descriptor again. Lines of different
 *   writers stay apart as they were in the pipe (writes up to PIPE_BUF are atomic there).
 * - Bounded. The ring's capacity is part of --max-buffer (copy-session.ts takes it out of the
 *   bound the writer's queue is held to), and the loop takes from the ring only what reading
 *   admits: paused (backpressure), it takes nothing, the ring fills, the thread stops reading
 *   and the writers wait on the pipe as before.
 * - Stop: park() returns once the thread has stopped reading; what it read is in the ring.
 */
export interface DrainLimits {
  /** The thread parks itself after the pipe stayed empty this long. */
  readonly quietMs: number;
  /** After a read that emptied the pipe (shorter than asked, or empty) it naps this long: one read then takes what the writers added meanwhile. */
  readonly napMs: number;
  /** The loop is woken for the ring's bytes once it holds this much (or the pipe ran dry). */
  readonly tellAtBytes: number;
  /** ... or once bytes have waited this long in the ring (a writer that never lets the pipe run dry). */
  readonly tellAfterMs: number;
  /** A parked thread ends after this long; the next flood starts another. */
  readonly endAfterMs: number;
}

/** ES2024's Atomics.waitAsync (in Node since 16), not yet in this project's TypeScript lib. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** Ring capacity for a --max-buffer: a quarter of it, a power of two (the ring's positions wrap with the counters), 1 MiB at most. */
export function drainRingBytes(maxBufferBytes: number): number {
  let size = 64 * 1024;
  while (size * 2 <= Math.min(1024 * 1024, maxBufferBytes / 4)) size *= 2;
  return size;
}

/** park() waits at most this long: the thread never blocks longer than a nap or a 50 ms wait for room. */
const PARK_WAIT_MS = 5000;

export class DrainThread {
  private worker: Worker | null = null;
  private started = false;
  private control: Int32Array | null = null;
  private ring: Buffer | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Where the loop takes next (ahead of TAKEN while a piece is being handed on), and how deep take() is nested. */
  private cursor = 0;
  private depth = 0;
  private failure: ((err: Error) => void) | null = null;

  constructor(
    private readonly fd: number,
    readonly ringBytes: number,
    private readonly limits: DrainLimits,
    private readonly log: Logger,
  ) {}

  /** A read error of the thread (the loop's socket would have reported it the same way). */
  onFailure(handler: (err: Error) => void): void {
    this.failure = handler;
  }

  /** The thread may be reading the pipe: the loop must not. */
  get running(): boolean {
    return this.control !== null && Atomics.load(this.control, STATE) !== PARKED;
  }

  /** Bytes read into the ring and not yet taken. */
  get buffered(): number {
    const ctl = this.control;
    return ctl === null ? 0 : (Atomics.load(ctl, WRITTEN) - this.cursor) | 0;
  }

  /**
   * Whether the thread is up to be engaged; starts it if it is not there (a method, not a
   * getter, for that side effect). False while it starts (a few tens of ms the first time: the
   * loop reads meanwhile) and after close.
   */
  readyOrStart(): boolean {
    if (this.closed) return false;
    // A thread that died with bytes in its ring: those are taken first, by the loop.
    if (this.worker === null && this.buffered === 0) this.start();
    return this.started;
  }

  /** Lets the thread read the pipe from here on; the caller has stopped reading it and checked `ready`. */
  engage(): void {
    const ctl = this.control;
    if (!this.started || ctl === null) return;
    if (this.endTimer !== null) clearTimeout(this.endTimer);
    this.endTimer = null;
    Atomics.store(ctl, STATE, RUN);
    Atomics.notify(ctl, STATE);
  }

  /**
   * Hands ring bytes to `take` in pipe order, at most `maxBytes` and while `more()` holds (asked
   * before each piece), as views valid until `take` returns (it copies them: the thread reuses
   * the space once they are taken).
   */
  take(take: (chunk: Buffer) => void, maxBytes: number, more: () => boolean = () => true): number {
    const ctl = this.control;
    const ring = this.ring;
    if (ctl === null || ring === null) return 0;
    // `take` may call this again (a chunk's quit string stops the copy, whose stop loop pulls
    // everything): the cursor moves before each piece is handed on, so a nested call goes on
    // after it, and the space is given back to the thread only by the outermost call, after
    // its piece was handed on and copied.
    this.depth += 1;
    let total = 0;
    try {
      while (total < maxBytes && more()) {
        const from = this.cursor;
        const held = (Atomics.load(ctl, WRITTEN) - from) | 0;
        if (held === 0) break;
        const at = from & (ring.length - 1);
        const n = Math.min(held, ring.length - at, maxBytes - total);
        this.cursor = (from + n) | 0;
        total += n;
        take(ring.subarray(at, at + n));
        if (this.depth === 1) {
          Atomics.store(ctl, TAKEN, this.cursor);
          Atomics.notify(ctl, TAKEN);
        }
      }
    } finally {
      this.depth -= 1;
    }
    return total;
  }

  /**
   * Calls `then` once (on the event loop) when the ring holds `tellAtBytes`, or some bytes and
   * the pipe ran dry, or the thread has parked; at once if that is already so.
   */
  whenReady(then: () => void): void {
    const ctl = this.control;
    if (ctl === null) return;
    Atomics.store(ctl, WANT, 1);
    const seq = Atomics.load(ctl, SEQ);
    // As the thread's tell(): a few bytes wait for more, or for the pipe to run dry.
    if (this.buffered >= this.limits.tellAtBytes || !this.running) {
      setImmediate(then);
      return;
    }
    const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, SEQ, seq);
    if (wait.async) void wait.value.then(then);
    else setImmediate(then);
  }

  /**
   * Stops the thread's reads and returns once it has (a read under way finishes first: well
   * under a millisecond; the thread never blocks in read(2)). What it read stays in the ring.
   */
  park(): void {
    const ctl = this.control;
    if (ctl === null || this.worker === null) return;
    if (Atomics.compareExchange(ctl, STATE, RUN, PARK_ASKED) === PARKED) return;
    Atomics.notify(ctl, TAKEN); // out of a wait for room
    const deadline = performance.now() + PARK_WAIT_MS;
    for (let state = Atomics.load(ctl, STATE); state !== PARKED; state = Atomics.load(ctl, STATE)) {
      if (performance.now() > deadline) {
        // Cannot happen short of a thread that no longer runs: it is ended, and the loop reads.
        this.log.error('DRAIN_STUCK', `the pipe drain thread did not stop reading within ${PARK_WAIT_MS} ms; it is ended`);
        const worker = this.worker;
        this.lost(worker);
        void worker?.terminate();
        return;
      }
      Atomics.wait(ctl, STATE, state, 50);
    }
  }

  /** Parks the thread for good and ends it; the ring's bytes must have been taken. */
  close(): void {
    if (this.closed) {
      this.release(); // a thread that died: its ring, now taken, is given back zeroed
      return;
    }
    this.park();
    this.closed = true;
    this.end();
  }

  /** The thread parked itself (the flood is over): it ends unless engaged again soon. */
  parkedByItself(): void {
    if (this.worker === null) this.release(); // it died, and its ring has been taken
    if (this.endTimer !== null || this.worker === null || this.closed) return;
    this.endTimer = setTimeout(() => {
      this.endTimer = null;
      if (!this.running && this.buffered === 0) this.end();
    }, this.limits.endAfterMs);
    this.endTimer.unref();
  }

  private start(): void {
    const control = new SharedArrayBuffer(WORDS * 4);
    const ring = new SharedArrayBuffer(this.ringBytes);
    const { quietMs, napMs, tellAtBytes, tellAfterMs } = this.limits;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd: this.fd, control, ring, quietMs, napMs, tellAtBytes, tellAfterMs } });
    } catch {
      this.closed = true; // no threads here: the loop reads, as it always could
      return;
    }
    this.worker = worker;
    this.control = new Int32Array(control);
    this.ring = Buffer.from(ring);
    this.cursor = 0;
    worker.unref();
    worker.on('message', (message: 'ready' | { failed: string }) => {
      if (message === 'ready') {
        this.started = true;
        this.log.debug('DRAIN_THREAD', `started: a thread reads the pipe in floods (ring of ${this.ringBytes} bytes)`);
      } else this.failure?.(Object.assign(new Error(`pipe read failed: ${message.failed}`), { code: message.failed }));
    });
    // A thread that dies is not reading: the loop reads on, the ring's bytes are still taken.
    worker.on('error', (err) => this.lost(worker, err.message));
    worker.on('exit', () => this.lost(worker));
  }

  /**
   * The thread ended without being asked (it failed to start, or died): it is not reading, the
   * loop reads from here on (its ring's bytes first), and no other thread is started.
   */
  private lost(worker: Worker | null, why = 'it exited'): void {
    if (worker === null || this.worker !== worker) return;
    this.worker = null;
    this.started = false;
    this.closed = true;
    if (this.control !== null) {
      Atomics.store(this.control, STATE, PARKED);
      Atomics.notify(this.control, SEQ); // a pending whenReady settles: the loop takes the ring's bytes and reads on
    }
    this.log.warn('DRAIN_THREAD', `the pipe drain thread ended unexpectedly (${why}); the event loop reads the pipe itself from here`);
  }

  private end(): void {
    if (this.endTimer !== null) clearTimeout(this.endTimer);
    this.endTimer = null;
    const worker = this.worker;
    this.worker = null;
    if (this.started) this.log.debug('DRAIN_THREAD', 'ended');
    this.started = false;
    if (this.control !== null) Atomics.notify(this.control, SEQ); // a pending whenReady settles
    this.release();
    void worker?.terminate();
  }

  /** Gives the ring back once it is empty, zeroed: no log lines left behind in memory that is given back. */
  private release(): void {
    if (this.buffered !== 0) return;
    this.ring?.fill(0);
    this.control = null;
    this.ring = null;
  }
}
