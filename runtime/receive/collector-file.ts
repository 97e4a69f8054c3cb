import { constants, fstatSync, promises as fsp } from 'node:fs';
import { writeAll } from '../appender.ts';
import { errnoCode, refusal, PipesError } from '../errors.ts';
import { describeFileType } from '../paths.ts';
import type { SpoolMessage } from '../sinks/forward/spool-reader.ts';
import { messageId } from '../sinks/forward/message-id.ts';
import { SeenMessages } from './seen.ts';

/**
 * A log on the collecting side (`receive`, `collect`): whole encrypted messages appended
 * verbatim, one fdatasync per batch, a message it already holds dropped. A batch that fails
 * midway is cut back to where it began, so the file never holds a torn message.
 */
export class CollectorFile {
  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
    private readonly seen: SeenMessages,
  ) {}

  static async open(path: string, mode: number): Promise<CollectorFile> {
    let handle: fsp.FileHandle;
    let created = true;
    try {
      // Created with O_EXCL, so the exact mode below is set only on a file made here.
      handle = await fsp.open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch(async (err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
        created = false;
        return fsp.open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
      });
    } catch (err) {
      if (errnoCode(err) === 'ELOOP') throw refusal('COLLECT_SYMLINK', `${JSON.stringify(path)} is a symlink; refusing to follow it`);
      throw new PipesError('COLLECT_OPEN', `cannot open ${JSON.stringify(path)}: ${errnoCode(err) ?? String(err)}`);
    }
    // The mode asked for, whatever the umask of sshd's session or the collect service.
    if (created) await handle.chmod(mode);
    const st = fstatSync(handle.fd);
    if (!st.isFile() || st.nlink !== 1) {
      await handle.close();
      throw refusal('COLLECT_NOT_FILE', `${JSON.stringify(path)} is ${st.isFile() ? 'hard-linked elsewhere' : describeFileType(st)}; refusing to append to it`);
    }
    return new CollectorFile(path, handle, await SeenMessages.fromFileTail(path));
  }

  /** Appends the messages it does not hold yet; returns how many were new. */
  async append(messages: readonly SpoolMessage[]): Promise<number> {
    const parts: Buffer[] = [];
    const ids: string[] = [];
    for (const m of messages) {
      const id = messageId(m.bytes);
      if (this.seen.has(id) || ids.includes(id)) continue;
      ids.push(id);
      parts.push(m.bytes);
      if (m.armored) parts.push(Buffer.from('\n'));
    }
    if (parts.length === 0) return 0;
    const before = (await this.handle.stat()).size;
    try {
      await writeAll(this.handle, Buffer.concat(parts));
      await this.handle.datasync();
    } catch (err) {
      await this.handle.truncate(before).catch(() => {});
      throw err;
    }
    for (const id of ids) this.seen.add(id);
    return ids.length;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
