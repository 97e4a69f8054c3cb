import { lstatSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BakedOptions } from './baked.ts';
import { errnoCode, PipesError, refusal, usageError } from './errors.ts';
import { describeFileType, octal } from './paths.ts';

/**
 * Who may own a path that root later reads or runs (the copy, its unit, its init script), and
 * every directory above it. Root is always trusted; `uids` adds e.g. the copy's save owner, who
 * could change the file itself anyway.
 */
export interface ChainTrust {
  readonly uids: readonly number[];
  /** Names the path in messages, e.g. "--save-path" or "this copy". */
  readonly what: string;
}

export interface ChainComponent {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * Checks a path the way sshd's StrictModes does: the path itself (when `includeLeaf` and it
 * exists) and every directory up to `/` must be owned by root or a trusted uid, and writable by
 * nobody else. Whoever can write a directory can rename any entry in it and put their own in its
 * place, so one weak directory anywhere up the chain hands the file to that user.
 *
 * The one exception is a sticky directory such as /tmp: group and others may write it, but the
 * sticky bit stops them from renaming or removing entries they do not own. That makes it safe
 * only because the entry below it is owned by root or a trusted uid, which the walk has already
 * checked one step earlier (the exception never applies to the path itself).
 *
 * Symlinks anywhere in the chain are refused rather than followed: the link's target would need
 * its own chain checked, the link can be retargeted by whoever owns its directory, and the path
 * baked into the copy or the unit would no longer be the path that was checked. The message
 * says which component is a link so the admin can give the resolved path instead.
 */
export function assertTrustedChain(path: string, trust: ChainTrust, includeLeaf: boolean): ChainComponent[] {
  if (!isAbsolute(path)) throw usageError('PATH_NOT_ABSOLUTE', `${trust.what}: ${JSON.stringify(path)} is not an absolute path`);
  const checked: ChainComponent[] = [];
  let current = normalize(path);
  let below: ChainComponent | null = null;
  let isLeaf = includeLeaf;
  if (!includeLeaf) current = dirname(current);
  for (;;) {
    const st = lstatComponent(current, trust, isLeaf);
    if (st !== null) {
      const component: ChainComponent = { path: current, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
      assertComponent(component, st, trust, below, isLeaf);
      checked.push(component);
      below = component;
    }
    if (current === '/') return checked;
    current = dirname(current);
    isLeaf = false;
  }
}

/** A leaf that does not exist yet is skipped (the walk starts at its directory); a missing directory is an error. */
function lstatComponent(path: string, trust: ChainTrust, isLeaf: boolean): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' && isLeaf) return null;
    throw usageError('CHAIN_MISSING', `${trust.what}: ${JSON.stringify(path)} cannot be checked: ${code ?? String(err)}`);
  }
}

function assertComponent(c: ChainComponent, st: Stats, trust: ChainTrust, below: ChainComponent | null, isLeaf: boolean): void {
  const where = `${trust.what}: ${JSON.stringify(c.path)} (owner ${c.uid}:${c.gid}, mode ${octal(c.mode)})`;
  if (st.isSymbolicLink()) {
    throw refusal('CHAIN_SYMLINK', `${where} is a symlink; symlinks on this path are refused: give the resolved path (realpath) instead`);
  }
  if (!isLeaf && !st.isDirectory()) {
    throw refusal('CHAIN_NOT_DIRECTORY', `${where} is ${describeFileType(st)}, not a directory`);
  }
  const trusted = [0, ...trust.uids];
  if (!trusted.includes(c.uid)) {
    throw refusal(
      'CHAIN_OWNER',
      `${where} is owned by uid ${c.uid}, who could replace what root runs or reads from here; every directory up to / must belong to root${trust.uids.some((u) => u !== 0) ? ` or uid ${trust.uids.filter((u) => u !== 0).join(', ')}` : ''}`,
    );
  }
  if ((c.mode & 0o022) === 0) return;
  const sticky = st.isDirectory() && (c.mode & 0o1000) !== 0;
  // Sticky: others may add entries but not rename ours; `below` (already checked) is trusted.
  // With nothing checked below it (the file is not there yet), there is nothing to lean on.
  if (sticky && below !== null) return;
  throw refusal(
    'CHAIN_WRITABLE',
    `${where} is writable by its group or by others, who could replace what root runs or reads from here; remove the write bits (chmod go-w) or use another path`,
  );
}

/**
 * Root may start this file: if it, or any directory above it, came to belong to someone else or
 * became writable by group or others, that someone could have put their own code here. Checked
 * before anything is opened; the bundle's import.meta.url is the file node actually loaded
 * (symlinks resolved).
 */
export function assertOwnFileTrusted(baked: Pick<BakedOptions, 'saveOwner'>, selfUrl: string): void {
  const self = fileURLToPath(selfUrl);
  try {
    assertTrustedChain(self, { uids: [baked.saveOwner.uid], what: 'this copy' }, true);
  } catch (err) {
    if (err instanceof PipesError) {
      throw refusal(
        'COPY_UNSAFE',
        `refusing to start: ${err.message}. Someone other than root or the save owner ${baked.saveOwner.label} could have changed this copy; check it, then regenerate it`,
      );
    }
    throw err;
  }
}
