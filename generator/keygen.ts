import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { errnoCode, PipesError, refusal, usageError } from '../runtime/errors.ts';

export interface KeyPair {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly fingerprint: string;
}

/**
 * A key pair GnuPG 2.2/2.4 can use: v4, ed25519 primary with a cv25519 (curve25519Legacy)
 * encryption subkey, no SEIPDv2 feature flag. The secret key is protected by the passphrase.
 */
export async function generateKeyPair(email: string, name: string | undefined, passphrase: string): Promise<KeyPair> {
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(email)) throw usageError('BAD_EMAIL', `--email must be an address like admin@example.org, got ${JSON.stringify(email)}`);
  if (passphrase.length < 8) throw usageError('WEAK_PASSPHRASE', 'the passphrase must be at least 8 characters');
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [name === undefined ? { email } : { name, email }],
    passphrase,
    format: 'armored',
    config: { aeadProtect: false, v6Keys: false },
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/**
 * Makes sure `dir` can hold a key pair: created like `mkdir -p` with mode 700 for every level it
 * makes when missing; when it exists, it must be a directory (a symlink to one is followed, as
 * the admin named it) that only its owner, the current user or root, can change. Anyone else who
 * can rename entries in it could swap the public key for their own, and every log generated
 * from it would be encrypted to them. A sticky directory such as /tmp is accepted: others cannot
 * rename or delete our entries there, and the keys are created with O_EXCL.
 */
export async function prepareKeyDir(dir: string): Promise<void> {
  const notDirectory = () => refusal('KEY_DIR_UNSAFE', `--out-dir ${JSON.stringify(dir)} exists and is not a directory`);
  const made = await fsp.mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    if (errnoCode(err) === 'EEXIST') throw notDirectory();
    throw new PipesError('KEY_DIR', `cannot create --out-dir ${JSON.stringify(dir)}: ${errnoCode(err) ?? String(err)}`);
  });
  const st = await fsp.stat(dir);
  if (!st.isDirectory()) throw notDirectory();
  if (made !== undefined) return;
  const me = process.getuid?.() ?? st.uid;
  if (st.uid !== me && st.uid !== 0) {
    throw refusal('KEY_DIR_UNSAFE', `--out-dir ${JSON.stringify(dir)} belongs to uid ${st.uid}, not to you or root: its owner could swap the keys; use a directory of your own`);
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    const mode = (st.mode & 0o777).toString(8);
    throw refusal('KEY_DIR_UNSAFE', `--out-dir ${JSON.stringify(dir)} is writable by group or others (mode ${mode}) without the sticky bit: they could swap the public key; chmod go-w it or use another directory`);
  }
}

/**
 * Writes `<email>.pub.asc` (644) and `<email>.sec.asc` (600) into `dir` (see prepareKeyDir),
 * never over existing files.
 */
export async function writeKeyPair(dir: string, email: string, pair: KeyPair): Promise<{ publicPath: string; secretPath: string }> {
  await prepareKeyDir(dir);
  const safe = email.replace(/[^A-Za-z0-9@._-]/g, '_');
  const publicPath = join(dir, `${safe}.pub.asc`);
  const secretPath = join(dir, `${safe}.sec.asc`);
  await writeNew(secretPath, pair.privateKey, 0o600);
  await writeNew(publicPath, pair.publicKey, 0o644);
  return { publicPath, secretPath };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const handle = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch((err: unknown) => {
    throw new PipesError('KEY_WRITE', `cannot create ${JSON.stringify(path)}: ${errnoCode(err) === 'EEXIST' ? 'it already exists' : (errnoCode(err) ?? String(err))}`);
  });
  try {
    await handle.writeFile(text);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
