import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { errnoCode, usageError } from '../runtime/errors.ts';

/**
 * Where a passphrase comes from. Never argv: command lines are visible to every local user
 * through /proc. The environment variable is read here, at the CLI boundary, by name.
 */
export interface PassphraseSource {
  readonly passphraseFile?: string;
  readonly passphraseFd?: string;
  readonly passphraseEnv?: string;
}

export async function readPassphrase(source: PassphraseSource, prompt: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  const given = [source.passphraseFile, source.passphraseFd, source.passphraseEnv].filter((v) => v !== undefined);
  if (given.length > 1) throw usageError('PASSPHRASE_SOURCES', 'give only one of --passphrase-file, --passphrase-fd, --passphrase-env');
  if (source.passphraseFile !== undefined) return firstLine(readOrFail('--passphrase-file', source.passphraseFile));
  if (source.passphraseFd !== undefined) {
    if (!/^[0-9]+$/.test(source.passphraseFd)) throw usageError('BAD_FD', `--passphrase-fd must be a file descriptor number, got ${JSON.stringify(source.passphraseFd)}`);
    return firstLine(readOrFail('--passphrase-fd', Number(source.passphraseFd)));
  }
  if (source.passphraseEnv !== undefined) {
    const value = env[source.passphraseEnv];
    if (value === undefined) throw usageError('PASSPHRASE_ENV_UNSET', `--passphrase-env: variable ${source.passphraseEnv} is not set`);
    return value;
  }
  return promptOnTty(prompt);
}

function readOrFail(option: string, from: string | number): string {
  try {
    return readFileSync(from, 'utf8');
  } catch (err) {
    throw usageError('PASSPHRASE_UNREADABLE', `${option}: cannot read ${JSON.stringify(String(from))}: ${errnoCode(err) ?? String(err)}`);
  }
}

/** The passphrase is the first line; a trailing newline from `echo` is not part of it. */
function firstLine(text: string): string {
  return text.replace(/\r?\n[\s\S]*$/, '');
}

/** Asks on the controlling terminal with echo off; null when there is no terminal. */
async function promptOnTty(prompt: string): Promise<string | null> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return null;
  }
  const input = new ReadStream(fd);
  const write = (text: string) => {
    try {
      writeSync(fd, text);
    } catch {
      // a terminal that cannot be written still can be read
    }
  };
  write(prompt);
  input.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      input.on('data', (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return resolve(typed);
          if (ch === '\u0003') return reject(usageError('PASSPHRASE_CANCELLED', 'cancelled at the passphrase prompt'));
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      });
    });
  } finally {
    input.setRawMode(false);
    write('\n');
    input.destroy();
    try {
      closeSync(fd);
    } catch {
      // already closed by the stream
    }
  }
}
