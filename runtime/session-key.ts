import { randomBytes } from 'node:crypto';

/**
 * The session-key window: one AES-256 session key, and its public-key packets (the key encrypted
 * to every recipient, computed once by openpgp.js), reused for every block sealed within a
 * bounded window. Each block stays a standalone OpenPGP message — the same PKESK bytes copied in
 * front of its own SEIPD v1 packet, with its own random prefix — so stock gpg opens each alone.
 *
 * Why: the public-key step (an X25519 or RSA operation per recipient) was most of the cost of a
 * small block: under a steady trickle it cost the copy a third of a core. The price is that one
 * snapshot of the copy's memory opens every block of the current window, not just the block in
 * flight (docs/threat-model.md).
 *
 * A window ends when the first of these comes: `windowMs` after its key was made, `maxBlocks`
 * blocks sealed with it, or end() (rotation, reopen, stop). Its key buffer is then overwritten
 * with zeros as soon as no seal still holds it: a seal leases the key, uses it synchronously
 * and gives it back, so zeroing never races a block being encrypted.
 */
export interface SessionKeyOptions {
  /** 0: a fresh key for every block (the window ends when its one block is sealed). */
  readonly windowMs: number;
  readonly maxBlocks: number;
  /** Encrypts `key` to every recipient: the PKESK packets, as bytes. */
  readonly keyPackets: (key: Uint8Array, date: Date) => Promise<Uint8Array>;
  /** Monotonic milliseconds: a stepped wall clock must not stretch a window. */
  readonly now?: () => number;
  /** Runs `fn` after `ms` (a window's end while no block comes); returns a cancel. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}

/**
 * Blocks one key may seal, whatever the window's duration: under a flood of small blocks a time
 * bound alone would let one key cover an unbounded number of them. 6,000 is a minute of the
 * steady trickle (~100 blocks/s), so at the default window time ends it first there; a faster
 * block rate ends windows early instead of widening what one snapshot opens.
 */
export const MAX_BLOCKS_PER_WINDOW = 6000;

export interface KeyLease {
  readonly key: Buffer;
  readonly keyPackets: Uint8Array;
}

interface Window {
  readonly key: Buffer;
  readonly ready: Promise<Uint8Array>;
  readonly startedAt: number;
  cancelTimer: () => void;
  blocks: number;
  leases: number;
  ended: boolean;
}

export class SessionKeys {
  private current: Window | null = null;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  /** Windows made so far: for tests and diagnostics. */
  windows = 0;

  constructor(private readonly options: SessionKeyOptions) {
    this.now = options.now ?? (() => performance.now());
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /**
   * The key for one block. Use it without awaiting anything in between, then release() it.
   * `date` only matters when a new window starts: the recipients' keys are checked at it.
   */
  async lease(date: Date): Promise<KeyLease> {
    const window = this.usable() ?? this.open(date);
    // Counted before the await: the seals of one batch share the window up to its bound, and a
    // held lease keeps the key from being erased under a seal.
    window.blocks += 1;
    window.leases += 1;
    try {
      return { key: window.key, keyPackets: await window.ready };
    } catch (err) {
      // The recipients could not be encrypted to: this window is useless; the next lease retries.
      this.retire(window);
      this.release(window.key);
      throw err;
    }
  }

  release(key: Buffer): void {
    const window = this.current !== null && this.current.key === key ? this.current : this.retired.get(key);
    if (window === undefined) return;
    window.leases -= 1;
    if (this.options.windowMs === 0 || window.blocks >= this.options.maxBlocks) this.retire(window);
    this.eraseIfDone(window);
  }

  /** Ends the current window (rotation, reopen, stop): the next block gets a new key. */
  end(): void {
    if (this.current !== null) this.retire(this.current);
  }

  /** Windows ended while a seal still held their key; erased when the last lease comes back. */
  private readonly retired = new Map<Buffer, Window>();

  private usable(): Window | null {
    const w = this.current;
    if (w === null) return null;
    const expired = this.now() - w.startedAt >= this.options.windowMs || w.blocks >= this.options.maxBlocks;
    if (expired) {
      this.retire(w);
      return null;
    }
    return w;
  }

  private open(date: Date): Window {
    const key = randomBytes(32);
    const window: Window = { key, ready: this.options.keyPackets(key, date), startedAt: this.now(), cancelTimer: noop, blocks: 0, leases: 0, ended: false };
    // Awaited by every lease; a failure is handed to them.
    window.ready.catch(() => {});
    // A copy that falls idle must not keep the key until the next line: erase it on time.
    if (this.options.windowMs > 0) window.cancelTimer = this.schedule(() => this.retire(window), this.options.windowMs);
    this.current = window;
    this.windows += 1;
    return window;
  }

  private retire(window: Window): void {
    if (window.ended) return;
    window.ended = true;
    window.cancelTimer();
    if (this.current === window) this.current = null;
    this.retired.set(window.key, window);
    this.eraseIfDone(window);
  }

  private eraseIfDone(window: Window): void {
    if (!window.ended || window.leases > 0) return;
    window.key.fill(0);
    this.retired.delete(window.key);
  }
}

const noop = () => {};

/** One timer per window, unref'd: it never keeps a stopping copy alive. */
function defaultSchedule(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
