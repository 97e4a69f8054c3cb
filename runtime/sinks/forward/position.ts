import { createHash } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../../errors.ts';

/**
 * How far one forwarder has shipped the log: which file (by device, inode and a digest of its
 * first bytes, so a reused inode is not mistaken for it) and the byte offset after the last
 * message the far side confirmed. Kept in a small JSON file beside the log, one per --forward URL.
 */
export interface ForwardPosition {
  readonly dev: number;
  readonly ino: number;
  /** SHA-256 (hex) of the file's first `headBytes` bytes. */
  readonly head: string;
  readonly headBytes: number;
  readonly offset: number;
}

/** Bytes of a log's start that identify it: they hold the first message's random session key. */
export const HEAD_BYTES = 512;

export function headDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `<log>.forward-<8 hex of the URL>.pos`: stable across restarts, distinct per URL. */
export function positionPath(logPath: string, url: string): string {
  const tag = createHash('sha256').update(url).digest('hex').slice(0, 8);
  return join(dirname(logPath), `${basename(logPath)}.forward-${tag}.pos`);
}

/** Whether a path is named like one of `positionPath`'s files. */
export function isPositionPath(path: string): boolean {
  return /\.forward-[0-9a-f]{8}\.pos$/.test(path);
}

/** null when there is none yet (first start) or it cannot be read as a position. */
export function loadPosition(path: string): ForwardPosition | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const ints = ['dev', 'ino', 'headBytes', 'offset'].every((k) => Number.isSafeInteger(v[k]) && (v[k] as number) >= 0);
    if (!ints || typeof v.head !== 'string' || !/^[0-9a-f]{64}$/.test(v.head)) return null;
    return { dev: v.dev as number, ino: v.ino as number, head: v.head, headBytes: v.headBytes as number, offset: v.offset as number };
  } catch {
    return null;
  }
}

/**
 * Writes the position so that a crash at any instant leaves either the old or the new one:
 * a temp file (mode like the log, owner the copy's user like the log), fsync, rename over the
 * old one, fsync of the directory so the rename itself survives power loss.
 */
export function savePosition(path: string, position: ForwardPosition, like: { readonly mode: number; readonly uid: number; readonly gid: number }): void {
  const tmp = `${path}.tmp`;
  const text = `${JSON.stringify({ ...position, savedAt: new Date().toISOString() })}\n`;
  // A temp file left by a crash is ours and stale: start it over.
  try {
    unlinkSync(tmp);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    // The umask made it 600; give it the log's owner and mode (it says no more than the log's size).
    if (process.geteuid?.() === 0 || like.uid === process.geteuid?.()) fchownSync(fd, like.uid, like.gid);
    fchmodSync(fd, like.mode & 0o666);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
