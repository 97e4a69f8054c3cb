import * as crypto from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { decodeArmored, openSymmetric, type Natives, type SymmetricOpened } from './open-symmetric.ts';
import { reusedInflater } from './reused-inflate.ts';

/**
 * Worker threads that open large messages (AES, SHA-1 and inflating a flood's 1 MiB blocks)
 * side by side, while the main thread splits the input, checks streams and writes the output.
 * Each worker runs the source of `openSymmetric`, so it needs no file of its own beside the
 * bundle. The reader keeps its order: it awaits the messages in input order whatever finishes
 * first, and holds only the few it opens ahead.
 *
 * Small messages (a trickle's few KiB) stay on the main thread: handing one to a worker costs
 * more than opening it. The workers start with the first large message, so a log of small
 * blocks never pays for them, and they hold the process open only while they have work.
 */
const NATIVES: Natives = { createCipheriv: crypto.createCipheriv, createDecipheriv: crypto.createDecipheriv, createHash: crypto.createHash, timingSafeEqual: crypto.timingSafeEqual, inflateSync: zlib.inflateSync, inflateRawSync: zlib.inflateRawSync };

/**
 * Encrypted bodies from this size on go to a worker; below, the hand-over costs more than the
 * work. A flood log holds blocks of 1 MiB of text (about 270 KiB encrypted) and, between them,
 * blocks of ~100 KiB (17 KiB encrypted): on the main thread these were a tenth of its work.
 */
export const OFFLOAD_MIN_BYTES = 16 * 1024;
/**
 * Workers: one per core, as the main thread mostly waits on them and on output writes; none on
 * a single core, where they only add their start-up and hand-overs (about a tenth more time,
 * measured; docs/performance.md).
 */
const WORKERS = availableParallelism() < 2 ? 0 : Math.min(4, availableParallelism());

/** Messages opened on a worker thread, and those of them decoded from armor there (for the tests and the bench). */
export const poolStats = { opened: 0, fromArmor: 0 };

/**
 * Buffers a worker keeps for inflating into: a few, as the main thread holds at most the blocks
 * opened ahead and the two output batches, and gives each back after its write. None past 8
 * MiB (a block's text is at most 1 MiB): a crafted block's huge buffer is not kept.
 */
const FREE_BUFFERS = 6;
const FREE_BUFFER_MAX = 8 * 1024 * 1024;

/**
 * Output buffers handed over by a worker, until given back: the whole block's view (offset and
 * length) and its worker. Weak: a block never written (not selected, a duplicate, filtered
 * lines) is simply collected.
 */
const lent = new WeakMap<ArrayBufferLike, { readonly offset: number; readonly length: number; readonly give: (buffer: ArrayBuffer) => void }>();

/**
 * Gives a block's output buffer back to the worker that inflated it, to inflate into again. Only
 * for the whole block's bytes as opened, once their write is done and nothing else holds them
 * (OutputBatch calls it after a write succeeded); anything else is ignored. After this the
 * bytes are gone from this thread (their buffer is detached).
 */
export function giveBack(bytes: Uint8Array): void {
  const owner = lent.get(bytes.buffer);
  if (owner === undefined || owner.offset !== bytes.byteOffset || owner.length !== bytes.byteLength) return;
  lent.delete(bytes.buffer);
  owner.give(bytes.buffer as ArrayBuffer);
}

const WORKER_SOURCE = `
const FREE_BUFFERS = ${FREE_BUFFERS};
const FREE_BUFFER_MAX = ${FREE_BUFFER_MAX};
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const m = { createCipheriv: crypto.createCipheriv, createDecipheriv: crypto.createDecipheriv, createHash: crypto.createHash, timingSafeEqual: crypto.timingSafeEqual, inflateSync: zlib.inflateSync, inflateRawSync: zlib.inflateRawSync };
const openSymmetric = ${openSymmetric.toString()};
const decodeArmored = ${decodeArmored.toString()};
// Output buffers the main thread gave back once it wrote their block: inflated into again.
const free = [];
// The binary of the armored block being opened (decodeArmored): one buffer, used again.
const decoded = { buffer: null };
const inflateInto = (${reusedInflater.toString()})(zlib, free);
if (inflateInto !== null) m.inflateInto = inflateInto;
// A little above the largest inflate ratio of the last blocks: one output piece, not much larger.
let ratio = 8;
parentPort.on('message', ({ id, message, start, end, key, head, give }) => {
  if (give !== undefined) {
    if (free.length < FREE_BUFFERS && give.byteLength <= FREE_BUFFER_MAX) free.push(give);
    return;
  }
  let opened;
  try {
    const binary = head === undefined ? message : decodeArmored(message, head, end, decoded);
    opened = binary === null ? null : openSymmetric(m, binary, start, end, key, ratio);
    // An uncompressed block (ratio 1) says nothing of the next compressed one.
    if (opened !== null && opened.ratio > 1) ratio = Math.min(8, Math.max(ratio * 0.9, opened.ratio * 1.1));
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
    return;
  }
  if (opened === null) return parentPort.postMessage({ id, opened: null });
  // The main thread's per-block work, done here while it is busy with the output.
  const digest = crypto.createHash('sha256').update(opened.data).digest();
  let newlines = 0;
  for (let at = opened.data.indexOf(10); at >= 0; at = opened.data.indexOf(10, at + 1)) newlines += 1;
  opened = { ...opened, digest, newlines };
  // Inflated output has a buffer of its own: handed over, not copied. A small one may sit in
  // node's shared buffer pool, which must not be taken away from this thread.
  const own = opened.data.buffer.byteLength > Buffer.poolSize;
  parentPort.postMessage({ id, opened, lent: own }, own ? [opened.data.buffer] : []);
});
`;

/**
 * The SEIPD body `[start, end)` of `message`, to open with `key`. With `head`, `message` is an
 * armored message's base64 lines, and `start` and `end` are offsets in what they decode to,
 * whose first bytes the main thread already decoded (`head`: the key packets and the SEIPD
 * packet's header): see decodeArmored.
 */
export interface OpenJob {
  readonly message: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly key: Uint8Array;
  readonly head?: Uint8Array;
}

interface Job extends OpenJob {
  readonly resolve: (opened: SymmetricOpened | null) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
}

export class OpenPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(private readonly size = WORKERS) {}

  /** Opens a message on a worker (null: not of the shape openSymmetric reads). */
  open(job: OpenJob): Promise<SymmetricOpened | null> {
    const slot = this.leastBusy();
    if (slot === null) return Promise.resolve().then(() => openHere(job));
    const id = (this.nextId += 1);
    return new Promise<SymmetricOpened | null>((resolve, reject) => {
      slot.jobs.set(id, { ...job, resolve, reject });
      if (slot.jobs.size === 1) slot.worker.ref();
      // A message in the reader's shared window is read there by the worker. Anything else is
      // copied and the copy handed over: a view would send its whole buffer along. The key too.
      const { message, start, end } = job;
      const key = Uint8Array.from(job.key);
      const head = job.head === undefined ? undefined : Uint8Array.from(job.head);
      if (message.buffer instanceof SharedArrayBuffer) slot.worker.postMessage({ id, message, start, end, key, head });
      else {
        const copy = Uint8Array.from(message);
        slot.worker.postMessage({ id, message: copy, start, end, key, head }, [copy.buffer]);
      }
    });
  }

  /** Starts every worker now, so their start-up overlaps other work. */
  warm(): this {
    while (this.slots.length < this.size && this.start() !== null);
    return this;
  }

  /** Stops the workers (they do not keep the process alive while idle either). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot | null {
    let best: Slot | null = null;
    for (const s of this.slots) if (best === null || s.jobs.size < best.jobs.size) best = s;
    if ((best === null || best.jobs.size > 0) && this.slots.length < this.size) best = this.start() ?? best;
    return best;
  }

  private start(): Slot | null {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true });
    } catch {
      return null; // no workers here: the caller opens on the main thread
    }
    const slot: Slot = { worker, jobs: new Map() };
    const give = (buffer: ArrayBuffer) => {
      if (this.slots.includes(slot)) worker.postMessage({ give: buffer }, [buffer]);
    };
    worker.on('message', (reply: { id: number; opened?: SymmetricOpened | null; error?: string; lent?: boolean }) => {
      const job = slot.jobs.get(reply.id);
      if (job === undefined) return;
      slot.jobs.delete(reply.id);
      if (slot.jobs.size === 0) worker.unref();
      if (reply.error !== undefined) job.reject(new Error(reply.error));
      else {
        poolStats.opened += 1;
        if (job.head !== undefined && reply.opened != null) poolStats.fromArmor += 1;
        const data = reply.opened?.data;
        if (reply.lent === true && data !== undefined) lent.set(data.buffer, { offset: data.byteOffset, length: data.byteLength, give });
        job.resolve(reply.opened ?? null);
      }
    });
    // A worker that dies (out of memory, say) loses no block: its jobs are opened here instead.
    const fail = () => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const job of slot.jobs.values()) {
        try {
          job.resolve(openHere(job));
        } catch (err) {
          job.reject(err as Error);
        }
      }
      slot.jobs.clear();
    };
    worker.on('error', fail).on('exit', fail);
    // After the listeners: adding a 'message' listener refs the worker's port again, and an idle
    // worker would then keep the process alive after its last block.
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

/** A job opened on the main thread: no worker could be started, or one died. */
function openHere(job: OpenJob): SymmetricOpened | null {
  const binary = job.head === undefined ? job.message : decodeArmored(job.message, job.head, job.end);
  return binary === null ? null : openSymmetric(NATIVES, binary, job.start, job.end, job.key);
}
