import { createHash } from 'node:crypto';
import { constants, closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { errnoCode } from '../errors.ts';

/**
 * Where each watched file was read up to, kept beside the log (`<log>.watch.pos`) so a restart
 * neither loses nor repeats a line.
 *
 * The position may only move once the blocks holding those bytes are durable, and a kill can
 * come between the append and the next write of this file. So before every append that carries
 * file bytes the copy writes both: the positions already durable, and the positions once this
 * append is in, with the log's inode and the size it will have. A restart looks at the log: grown
 * to that size (or already rotated, which only happens after a successful append), the append
 * made it; otherwise it did not (or was torn, and the decrypter reports the torn tail), and the
 * durable positions hold. Each write is a new file renamed over the old, so a kill never leaves
 * half of one. It is not fsync'd: after a power loss it may lag the log, and lines are then
 * read twice (the decrypter shows both), never lost.
 */
export interface FilePosition {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the file in durable blocks (or, for a fresh file, where reading began). */
  readonly offset: number;
  /** SHA-256 (hex) of the up to TAIL_BYTES bytes before `offset`: tells a replaced file apart. */
  readonly tail: string;
}

/** A mark the writer hands back: this reader's bytes up to `offset` are in the block. */
export interface PositionMark {
  readonly key: number;
  readonly offset: number;
  readonly tail: string;
}

interface StateFile {
  readonly v: 1;
  readonly files: FilePosition[];
  readonly pending: { readonly logIno: number; readonly logSizeAfter: number; readonly files: FilePosition[] } | null;
}

export const TAIL_BYTES = 64;
const MAX_STATE_BYTES = 4 * 1024 * 1024;

export function positionsPath(logPath: string): string {
  return `${logPath}.watch.pos`;
}

export function tailHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The up to TAIL_BYTES bytes before `offset` in an open file. */
export function readTail(fd: number, offset: number): Buffer {
  const length = Math.min(TAIL_BYTES, offset);
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offset - length + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The hash of the TAIL_BYTES before `offset` in an open file, as FilePosition.tail holds it. */
export function tailHashAt(fd: number, offset: number): string {
  return tailHash(readTail(fd, offset));
}

export class PositionStore {
  /** Positions in blocks already durable, by reader key. */
  private readonly durable = new Map<number, FilePosition>();
  /** The same, with the marks of the batch being appended. */
  private readonly ahead = new Map<number, FilePosition>();
  private nextKey = 1;
  private warned = false;

  constructor(
    private readonly logPath: string,
    private readonly warn: (why: string) => void,
  ) {}

  /** What the last run saved, with its last append settled by the log's size. [] when none. */
  load(): FilePosition[] {
    let state: StateFile;
    try {
      const fd = openSync(positionsPath(this.logPath), constants.O_RDONLY | constants.O_NOFOLLOW);
      let text: string;
      try {
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
      if (text.length > MAX_STATE_BYTES) throw new Error('too large');
      state = JSON.parse(text) as StateFile;
      if (state.v !== 1 || !Array.isArray(state.files)) throw new Error('not a position file');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.warn(`cannot read ${positionsPath(this.logPath)} (${errnoCode(err) ?? (err as Error).message}): watched files start as if never seen`);
      return [];
    }
    if (state.pending === null) return state.files;
    let log: { ino: number; size: number } | null = null;
    try {
      log = statSync(this.logPath);
    } catch {
      // No log at the path: it was rotated away after that append succeeded.
    }
    const appended = log === null || log.ino !== state.pending.logIno || log.size >= state.pending.logSizeAfter;
    return appended ? state.pending.files : state.files;
  }

  /** A reader starts at `position`: saved at once, so a kill before its first block keeps it. */
  add(position: FilePosition): number {
    const key = this.nextKey;
    this.nextKey += 1;
    this.durable.set(key, position);
    this.ahead.set(key, position);
    this.save(null);
    return key;
  }

  /** The reader is done (its file finished or replaced): its position is forgotten. */
  remove(key: number): void {
    this.durable.delete(key);
    this.ahead.delete(key);
    this.save(null);
  }

  /** The reader's file was truncated by us (--consume): it starts again at 0. */
  reset(key: number, position: FilePosition): void {
    if (!this.durable.has(key)) return;
    this.durable.set(key, position);
    this.ahead.set(key, position);
    this.save(null);
  }

  /** The reader now reads another file (a truncated file's copy, at the same offset). */
  relocate(key: number, file: { readonly path: string; readonly dev: number; readonly ino: number }): void {
    for (const map of [this.durable, this.ahead]) {
      const at = map.get(key);
      if (at !== undefined) map.set(key, { ...at, path: file.path, dev: file.dev, ino: file.ino });
    }
    this.save(null);
  }

  /** Bytes of the reader's file in durable blocks; -1 for a reader not (or no longer) known. */
  durableOffset(key: number): number {
    return this.durable.get(key)?.offset ?? -1;
  }

  beforeAppend(marks: readonly unknown[], bytes: number): void {
    apply(this.ahead, marks as PositionMark[]);
    let log: { ino: number; size: number };
    try {
      log = statSync(this.logPath);
    } catch {
      // Without the log's size a restart cannot tell whether this append made it: keep the
      // durable positions only (a line may then be read twice, never lost).
      this.save(null);
      return;
    }
    this.save({ logIno: log.ino, logSizeAfter: log.size + bytes, files: [...this.ahead.values()] });
  }

  durableNow(marks: readonly unknown[]): void {
    apply(this.durable, marks as PositionMark[]);
  }

  /** At a clean stop: everything is durable. */
  settle(): void {
    this.save(null);
  }

  private save(pending: StateFile['pending']): void {
    const state: StateFile = { v: 1, files: [...this.durable.values()], pending };
    const path = positionsPath(this.logPath);
    const tmp = `${path}.tmp`;
    try {
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      try {
        if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
        writeSync(fd, `${JSON.stringify(state)}\n`);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      this.warned = false;
    } catch (err) {
      // The log matters more than the position: keep going, say so once per failure spell.
      if (!this.warned) this.warn(`cannot save watched-file positions in ${path} (${errnoCode(err) ?? (err as Error).message}): after a restart lines may be read again`);
      this.warned = true;
    }
  }
}

function apply(map: Map<number, FilePosition>, marks: readonly PositionMark[]): void {
  for (const mark of marks) {
    const at = map.get(mark.key);
    // Marks of a reader already removed (a truncated file's last blocks) change nothing.
    if (at !== undefined && mark.offset >= 0) map.set(mark.key, { ...at, offset: mark.offset, tail: mark.tail });
  }
}
