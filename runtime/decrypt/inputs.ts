import { closeSync, openSync, readSync } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errnoCode, usageError } from '../errors.ts';
import { compareRotation, rotationIdOf, type RotationId } from '../rotation/names.ts';
import { LINK_FILE_SUFFIX } from '../seal/link-file.ts';
import { isPositionPath } from '../sinks/forward/position.ts';
import type { NatsInput } from './nats-input.ts';

/**
 * What `decrypt` reads, resolved from its arguments into one ordered list:
 * - a log file (live, kept or aside): appended messages, read chunk by chunk;
 * - an archive (`*.gz.gpg`): one rotated log under an outer encryption layer and gzip;
 * - a stream (`-` for standard input, or a FIFO): read as it comes, until its writers close;
 * - a NATS JetStream subject (`--from nats://…`, added by the command after the files).
 *
 * Directories are walked recursively. Files are grouped per source log (the log's name without
 * its rotation suffix, so an archive in an archive dir joins the live log it came from) and each
 * group is put in rotation order: rotated files by (stamp, counter), then the live log. Groups
 * come in the order they are first named (a directory's in name order).
 */
export type LocalInput =
  | { readonly kind: 'log' | 'archive'; readonly path: string; readonly size: number }
  | { readonly kind: 'stream'; readonly path: string | null; readonly label: string };
export type Input = LocalInput | NatsInput;

export interface ResolvedInputs {
  readonly inputs: readonly LocalInput[];
  /** Files inside directories that are not encrypted logs, left out (the caller says so). */
  readonly skipped: readonly string[];
}

export const ARCHIVE_SUFFIX = '.gz.gpg';
export const STDIN = '-';

/** A rotation's marker files and an archive being written: never inputs. */
const NOT_INPUT = /\.aside\.mailed$|\.tmp$/;

interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly archive: boolean;
  readonly rotation: RotationId | null;
}

export async function resolveInputs(args: readonly string[], archiveDir?: string): Promise<ResolvedInputs> {
  const groups = new Map<string, FileEntry[]>();
  const order: Array<string | LocalInput> = []; // a group's key, or a stream, in the order first met
  const skipped: string[] = [];
  const addFile = (entry: FileEntry) => {
    const key = sourceName(entry.path, entry.rotation);
    let group = groups.get(key);
    if (group === undefined) {
      group = [];
      groups.set(key, group);
      order.push(key);
    }
    if (!group.some((e) => e.path === entry.path)) group.push(entry);
  };
  for (const arg of args) {
    if (arg === STDIN) {
      if (order.some((o) => typeof o !== 'string' && o.path === null)) throw usageError('STDIN_TWICE', 'standard input ("-") can be read only once');
      order.push({ kind: 'stream', path: null, label: '<stdin>' });
      continue;
    }
    const st = await stat(arg).catch((err: unknown) => {
      throw usageError('INPUT_UNREADABLE', `cannot read ${JSON.stringify(arg)}: ${errnoCode(err) ?? String(err)}`);
    });
    if (st.isFIFO()) order.push({ kind: 'stream', path: arg, label: arg });
    else if (st.isDirectory()) {
      for (const found of await walk(arg)) {
        // The copy's own small state files beside a log are neither logs nor strangers.
        if (isCopyStateFile(found.path)) continue;
        if (await looksEncrypted(found.path)) addFile(found);
        else skipped.push(found.path);
      }
    } else if (st.isFile()) addFile(entryOf(arg, st.size));
    else throw usageError('INPUT_NOT_FILE', `${JSON.stringify(arg)} is not a file, a directory or a FIFO`);
  }
  if (archiveDir !== undefined) {
    const names = await readdir(archiveDir).catch((err: unknown) => {
      throw usageError('ARCHIVE_DIR_UNREADABLE', `--archive-dir ${JSON.stringify(archiveDir)}: ${errnoCode(err) ?? String(err)}`);
    });
    for (const name of names.sort()) {
      if (!name.endsWith(ARCHIVE_SUFFIX) || name.startsWith('.')) continue;
      const path = join(archiveDir, name);
      const st = await stat(path).catch(() => null);
      if (st?.isFile() === true) addFile(entryOf(path, st.size));
    }
  }
  const inputs: LocalInput[] = [];
  for (const item of order) {
    if (typeof item !== 'string') inputs.push(item);
    else for (const e of inRotationOrder(groups.get(item) ?? [])) inputs.push({ kind: e.archive ? 'archive' : 'log', path: e.path, size: e.size });
  }
  return { inputs, skipped };
}

function entryOf(path: string, size: number): FileEntry {
  return { path, size, archive: path.endsWith(ARCHIVE_SUFFIX), rotation: rotationIdOf(path) };
}

/** The live log's name: a rotated file's name without `.<stamp>.<n>[.aside|.gz.gpg]`. */
function sourceName(path: string, rotation: RotationId | null): string {
  const name = basename(path);
  if (rotation === null) return name.endsWith(ARCHIVE_SUFFIX) ? name.slice(0, -ARCHIVE_SUFFIX.length) : name;
  return name.slice(0, name.lastIndexOf(`.${rotation.stamp}.${rotation.counter}`));
}

/** Rotated files oldest first, then the files that are not rotations (the live log) as given. */
function inRotationOrder(group: readonly FileEntry[]): FileEntry[] {
  const rotated = group.filter((e) => e.rotation !== null).sort((a, b) => compareRotation(a.rotation!, b.rotation!));
  return [...rotated, ...group.filter((e) => e.rotation === null)];
}

/** Every regular file under `dir`, in name order; hidden files and rotation markers left out. */
async function walk(dir: string): Promise<FileEntry[]> {
  const names = await readdir(dir).catch((err: unknown) => {
    throw usageError('INPUT_UNREADABLE', `cannot read directory ${JSON.stringify(dir)}: ${errnoCode(err) ?? String(err)}`);
  });
  const found: FileEntry[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || NOT_INPUT.test(name)) continue;
    const path = join(dir, name);
    // lstat: a symlink inside a directory is not followed (it could loop or leave the tree).
    const st = await lstat(path).catch(() => null);
    if (st === null) continue;
    if (st.isDirectory()) found.push(...(await walk(path)));
    else if (st.isFile()) found.push(entryOf(path, st.size));
  }
  return found;
}

/**
 * An encrypted log starts with an armor line or an OpenPGP packet header (high bit set); an
 * empty file is a live log just rotated. Anything else in a directory (notes, keys, plain
 * logs) is left out rather than reported block by block as garbage.
 */
async function looksEncrypted(path: string): Promise<boolean> {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n === 0) return true;
    return ((head[0] as number) & 0x80) !== 0 || head.subarray(0, n).toString('latin1').startsWith('-----BEGIN PGP MESSAGE-----');
  } catch {
    return true; // unreadable: kept, so reading it reports why
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** A state file the copy keeps beside its log: the stream link (`<log>.seal`), a forwarder's position. */
function isCopyStateFile(path: string): boolean {
  return path.endsWith(LINK_FILE_SUFFIX) || isPositionPath(path);
}
