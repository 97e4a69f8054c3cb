import { lstatSync } from 'node:fs';
import { normalize } from 'node:path';
import type { BakedPath, BakedSession, Owner } from '../runtime/baked.ts';
import { errnoCode, usageError } from '../runtime/errors.ts';
import type { RawEncrypterOptions } from './options.ts';

/**
 * --session-dir and --session-profile. The directory is the copy's (it makes it, mode 3733, at
 * start); the profile snippet is for /etc/profile.d/, owned by root (the generator's user when
 * not root) and readable by every user who logs in.
 */
export function resolveSession(
  raw: RawEncrypterOptions,
  own: { readonly pipe: string | null; readonly output: string; readonly save: string },
  generatorOwner: Owner,
): { session: BakedSession | null; profile: BakedPath | null } {
  if (raw.sessionDir === undefined) {
    if (raw.sessionProfile !== undefined) throw usageError('SESSION_OPTION_ALONE', '--session-profile needs --session-dir');
    return { session: null, profile: null };
  }
  const dir = absolute('--session-dir', raw.sessionDir);
  if (dir === '/' || [own.pipe, own.output, own.save].some((p) => p !== null && (p === dir || p.startsWith(`${dir}/`)))) {
    throw usageError('SESSION_DIR_SHARED', `--session-dir ${JSON.stringify(raw.sessionDir)} must be a directory of its own: not /, and not holding the pipe, the log or the copy (every entry in it is taken as a session)`);
  }
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw usageError('SESSION_DIR_NOT_DIRECTORY', `--session-dir ${JSON.stringify(raw.sessionDir)} exists and is not a directory (symlinks are refused)`);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const profile = raw.sessionProfile === undefined ? null : absolute('--session-profile', raw.sessionProfile);
  if (profile !== null && !profile.endsWith('.sh')) {
    throw usageError('SESSION_PROFILE_NAME', `--session-profile must end in .sh: /etc/profile sources only /etc/profile.d/*.sh, got ${JSON.stringify(raw.sessionProfile)}`);
  }
  return { session: { dir }, profile: profile === null ? null : { path: profile, owner: generatorOwner, mode: 0o644 } };
}

function absolute(option: string, value: string): string {
  if (!value.startsWith('/')) throw usageError('SESSION_PATH_RELATIVE', `${option} must be an absolute path, got ${JSON.stringify(value)}`);
  if (/[\0\n'"\\$`\s]/.test(value)) throw usageError('BAD_PATH', `${option} must not contain quotes, backslashes, $, backquotes, spaces or control characters: it goes into a shell snippet`);
  return normalize(value).replace(/\/$/, '');
}
