import { constants, lstatSync, promises as fsp, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode, refusal } from './errors.ts';

/**
 * Checks shared by every path the copy creates or opens. The threat: another local user who can
 * write into the directory could swap our file for a symlink or their own file between our
 * check and our open. A directory writable by others (without the sticky bit, which stops them
 * from replacing files they do not own) is refused outright.
 */
export function assertSafeDirectory(path: string, what: string): void {
  const dir = dirname(path);
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw refusal('DIR_MISSING', `${what} directory ${JSON.stringify(dir)} cannot be used: ${errnoCode(err) ?? String(err)}`);
  }
  if (!st.isDirectory()) {
    throw refusal('DIR_NOT_DIRECTORY', `${what} directory ${JSON.stringify(dir)} is not a directory (symlinks are refused)`);
  }
  const worldWritable = (st.mode & 0o002) !== 0;
  const sticky = (st.mode & 0o1000) !== 0;
  if (worldWritable && !sticky) {
    throw refusal(
      'DIR_WORLD_WRITABLE',
      `${what} directory ${JSON.stringify(dir)} is writable by every user (mode ${(st.mode & 0o7777).toString(8)}): anyone could replace the ${what}; use a directory only its owner can write`,
    );
  }
}

export function octal(mode: number): string {
  return mode.toString(8).padStart(3, '0');
}

/** lstat that maps "not there" to null and lets other errors through. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Opens a file for reading, never through a symlink; null when it is not there. */
export async function openReadOnlyOrNull(path: string): Promise<fsp.FileHandle | null> {
  try {
    return await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

export function describeFileType(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'an unknown file type';
}
