import { execFileSync } from 'node:child_process';
import { tempDir } from './cli.ts';

/** Real GnuPG in a throwaway GNUPGHOME, so tests never touch the user's keyring. */
export class TempGpg {
  readonly home: string;
  private readonly dir = tempDir('pp-gnupg-');

  constructor() {
    this.home = this.dir.path;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, GNUPGHOME: this.home };
  }

  run(args: readonly string[], input?: Buffer | string): Buffer {
    return execFileSync('gpg', ['--batch', '--no-tty', '--quiet', ...args], { env: this.env, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  importKey(armored: string): void {
    this.run(['--import'], armored);
  }

  decrypt(message: Buffer | string): Buffer {
    return this.run(['--decrypt'], message);
  }

  dispose(): void {
    try {
      execFileSync('gpgconf', ['--kill', 'all'], { env: this.env, stdio: 'ignore' });
    } catch {
      // no agent was started
    }
    this.dir.dispose();
  }
}
