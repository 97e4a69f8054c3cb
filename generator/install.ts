import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BakedPath } from '../runtime/baked.ts';
import { errnoCode, PipesError, refusal } from '../runtime/errors.ts';
import { describeFileType, lstatOrNull } from '../runtime/paths.ts';

/**
 * Writes the copy so that the target path only ever holds a complete file with its final
 * owner and mode: written to a fresh temp name beside it (O_EXCL, O_NOFOLLOW, mode 600),
 * fsynced, chowned and chmodded on the descriptor, then renamed into place.
 */
export async function installCopy(bytes: Uint8Array, save: BakedPath, force: boolean): Promise<void> {
  await installFile(bytes, save, force, { option: '--save-path', existsCode: 'SAVE_EXISTS', directoryCode: 'SAVE_IS_DIRECTORY', what: 'the copy' });
}

/** The same for any file root later reads or runs (the systemd unit, the init script). */
export async function installFile(
  bytes: Uint8Array,
  save: BakedPath,
  force: boolean,
  names: { option: string; existsCode: string; directoryCode: string; what: string },
): Promise<void> {
  const existing = lstatOrNull(save.path);
  if (existing !== null) {
    if (!force) {
      throw refusal(names.existsCode, `${names.option} ${JSON.stringify(save.path)} already exists (${describeFileType(existing)}); add --force to replace it`);
    }
    if (existing.isDirectory()) throw refusal(names.directoryCode, `${names.option} ${JSON.stringify(save.path)} is a directory`);
  }
  const dir = dirname(save.path);
  const temp = join(dir, `.${basename(save.path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp
    .open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    .catch((err: unknown) => {
      throw new PipesError('SAVE_WRITE', `cannot write in ${JSON.stringify(dir)}: ${errnoCode(err) ?? String(err)}`);
    });
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.chown(save.owner.uid, save.owner.gid);
    await handle.chmod(save.mode);
    await handle.close();
    await fsp.rename(temp, save.path);
  } catch (err) {
    await handle.close().catch(() => {});
    await fsp.unlink(temp).catch(() => {});
    throw new PipesError('SAVE_WRITE', `cannot install ${names.what} at ${JSON.stringify(save.path)}: ${errnoCode(err) ?? String(err)}`);
  }
  // Make the rename itself durable.
  const dirHandle = await fsp.open(dir, constants.O_RDONLY);
  await dirHandle.sync().finally(() => dirHandle.close());
}
