import { closeSync, constants, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.ts';
import { tailHashAt, type FilePosition } from './positions.ts';
import type { OpenedFile } from './watched-file.ts';

/**
 * Finding watched files on disk: globs in a file name, a regular file opened without hanging on
 * a FIFO, a file of a saved position wherever rotation moved it (by inode), and the copy
 * logrotate's copytruncate made of a file.
 */
export const hasGlob = (pattern: string): boolean => /[*?]/.test(basename(pattern));

export function globRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  // Hidden files only when the pattern asks for them, as in a shell.
  return new RegExp(`^(?!\\.)${body}$`.replace('^(?!\\.)\\.', '^\\.'));
}

export function statOrNull(path: string): { dev: number; ino: number } | null {
  try {
    return statSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** True for a file that is the copy's own (its log, anything beside it, an archive, its pipe), by device and inode. */
export type OwnInode = (dev: number, ino: number) => boolean;

/**
 * Opens a regular file; null when nothing is there. For reading it follows a symlink, as tail -F
 * does. For --consume (`writable`) it does not: whoever may write the watched file's directory
 * could otherwise point the name at any file the copy's user may write (its archives, say) and
 * have the copy empty it. Never one of the copy's own files, whatever the name: reading its own
 * log would append to it without end.
 */
export function openRegular(path: string, writable: boolean, isOwnInode: OwnInode = () => false): OpenedFile | null {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put at the path must not hang the copy before fstat refuses it.
    fd = openSync(path, (writable ? constants.O_RDWR | constants.O_NOFOLLOW : constants.O_RDONLY) | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    if (errnoCode(err) === 'ELOOP') throw Object.assign(new Error('a symlink: with --consume a watched file is opened only as itself, never through a link'), { code: 'ELOOP' });
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw Object.assign(new Error('not a regular file (only regular files are watched; a pipe is read with --pipe)'), { code: 'ENOTREG' });
  }
  if (isOwnInode(st.dev, st.ino)) {
    closeSync(fd);
    throw Object.assign(new Error("one of the copy's own files (its log, a file beside it, an archive): never read as a source"), { code: 'EOWNFILE' });
  }
  return { fd, dev: st.dev, ino: st.ino, path };
}

/** The file of a saved position: at the path itself or a rotated name beside it, by inode. */
export function findByInode(path: string, position: FilePosition, isOwnInode?: OwnInode): OpenedFile | null {
  for (const candidate of [position.path, path, ...siblings(path)]) {
    const st = statOrNull(candidate);
    if (st === null || st.dev !== position.dev || st.ino !== position.ino) continue;
    try {
      const file = openRegular(candidate, false, isOwnInode);
      if (file !== null && file.ino === position.ino && file.dev === position.dev) return file;
      if (file !== null) closeSync(file.fd);
    } catch {
      // Not readable or not a regular file: look on.
    }
  }
  return null;
}

/** A copy of a truncated file: a rotated name beside it that holds what was read, and more. */
export function findCopy(path: string, reader: { readonly offset: number; readonly tailHash: string }, isOwnInode?: OwnInode): OpenedFile | null {
  const want = reader.offset;
  for (const candidate of siblings(path)) {
    let file: OpenedFile | null = null;
    try {
      file = openRegular(candidate, false, isOwnInode);
      if (file === null) continue;
      if (fstatSync(file.fd).size >= want && tailHashAt(file.fd, want) === reader.tailHash) return file;
    } catch {
      // look on
    }
    if (file !== null) closeSync(file.fd);
  }
  return null;
}

/** Names beside `path` that rotation gives it: `path.1`, `path-20261202`, newest first. */
function siblings(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found = names
    .filter((n) => (n.startsWith(`${base}.`) || n.startsWith(`${base}-`)) && !/\.(gz|bz2|xz|zst|lz4)$/.test(n))
    .map((n) => join(dir, n))
    .map((p) => ({ p, mtime: mtimeOf(p) }));
  return found.sort((a, b) => b.mtime - a.mtime).map((f) => f.p);
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
