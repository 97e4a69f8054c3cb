// The admin's key for the benchmarks, made as admins make them: by GnuPG (ed25519 + cv25519, no
// passphrase for the bench) in a throwaway GNUPGHOME. Its preferences list ZLIB first, so gpg
// compresses, as the copy does.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import tmp from 'tmp';

const execFileAsync = promisify(execFile);

/** Makes the key under `dir`; returns the key files, the fingerprint and gpg's environment. */
export async function makeBenchKey(dir) {
  const gnupgHome = join(dir, 'gnupg');
  const gpgEnv = { ...process.env, GNUPGHOME: gnupgHome };
  mkdirSync(gnupgHome, { mode: 0o700 });
  const pinentry = ['--batch', '--pinentry-mode', 'loopback', '--passphrase', ''];
  await execFileAsync('gpg', [...pinentry, '--quiet', '--quick-gen-key', 'bench@example.org', 'future-default', 'default', 'never'], { env: gpgEnv });
  const { stdout: publicKey } = await execFileAsync('gpg', ['--batch', '--armor', '--export', 'bench@example.org'], { env: gpgEnv });
  const { stdout: privateKey } = await execFileAsync('gpg', [...pinentry, '--armor', '--export-secret-keys', 'bench@example.org'], { env: gpgEnv });
  const pub = join(dir, 'bench.pub.asc');
  const sec = join(dir, 'bench.sec.asc');
  writeFileSync(pub, publicKey);
  writeFileSync(sec, privateKey, { mode: 0o600 });
  const fpr = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase();
  return { pub, sec, fpr, gpgEnv, privateKey };
}

/** Stops the agent the key's GNUPGHOME started. */
export async function disposeBenchKey(key) {
  await execFileAsync('gpgconf', ['--kill', 'all'], { env: key.gpgEnv }).catch(() => {});
}

/**
 * Runs `run(dir, key)` in a fresh private temp dir with the bench key made in it; stops the key's
 * agent and removes the dir afterwards, whatever happened.
 */
export async function withBenchKey(prefix, run) {
  const dir = tmp.dirSync({ prefix, mode: 0o700, unsafeCleanup: true });
  const key = await makeBenchKey(dir.name);
  try {
    return await run(dir.name, key);
  } finally {
    await disposeBenchKey(key);
    dir.removeCallback();
  }
}
