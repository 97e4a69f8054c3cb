import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * What the generator asks of the system, behind one small port so that validation can be
 * tested with a fake system and the real one is only touched here. No shell: argument arrays.
 */
export interface SystemPort {
  /** A line of `getent passwd|group KEY`, or null when there is no such entry. */
  getent(database: 'passwd' | 'group', key: string): Promise<string | null>;
  /** Group ids of a user (`id -G`), supplementary groups included. */
  groupsOf(user: string): Promise<number[]>;
  /** `gpg --export` of the public keys matching `who`; empty when none match. */
  gpgExport(who: string): Promise<Buffer>;
  readonly uid: number;
  readonly gid: number;
}

export const realSystem: SystemPort = {
  async getent(database, key) {
    try {
      const { stdout } = await execFileAsync('getent', [database, '--', key]);
      const line = stdout.split('\n')[0];
      return line === undefined || line === '' ? null : line;
    } catch {
      return null; // getent exits 2 when the key is not found
    }
  },
  async groupsOf(user) {
    const { stdout } = await execFileAsync('id', ['-G', '--', user]);
    return stdout.trim().split(/\s+/).map(Number).filter(Number.isInteger);
  },
  async gpgExport(who) {
    const { stdout } = await execFileAsync('gpg', ['--batch', '--no-tty', '--export', '--', who], {
      encoding: 'buffer',
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  },
  uid: process.getuid?.() ?? 0,
  gid: process.getgid?.() ?? 0,
};
