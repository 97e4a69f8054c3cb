import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeKeyPair, type KeyPair } from '../../../generator/keygen.ts';
import { tempDir } from '../../helpers/cli.ts';

const tmp = tempDir('pp-keygen-');
afterAll(() => tmp.dispose());

// writeKeyPair only stores the armored texts; a real key is not needed to test where they go.
const pair: KeyPair = { publicKey: 'PUBLIC\n', privateKey: 'SECRET\n', fingerprint: 'F' };
const isRoot = process.getuid?.() === 0;

async function refusal(dir: string): Promise<{ code: string; exitCode: number; message: string }> {
  const err = (await writeKeyPair(dir, 'a@example.org', pair).then(() => null, (e: unknown) => e)) as { code: string; exitCode: number; message: string } | null;
  if (err === null) throw new Error(`${dir} was accepted`);
  return err;
}

describe('keygen --out-dir', () => {
  it('creates a missing directory, and its missing parents, with mode 700', async () => {
    const dir = join(tmp.path, 'new', 'deeper', 'keys');
    const { publicPath, secretPath } = await writeKeyPair(dir, 'a@example.org', pair);
    for (const d of [join(tmp.path, 'new'), join(tmp.path, 'new', 'deeper'), dir]) expect(statSync(d).mode & 0o7777).toBe(0o700);
    expect(readFileSync(publicPath, 'utf8')).toBe('PUBLIC\n');
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
  });

  it('uses an existing directory of its own as it is, and a sticky shared one such as /tmp', async () => {
    const own = join(tmp.path, 'own');
    mkdirSync(own, { mode: 0o755 });
    await writeKeyPair(own, 'a@example.org', pair);
    expect(statSync(own).mode & 0o777).toBe(0o755);
    const sticky = join(tmp.path, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    await writeKeyPair(sticky, 'a@example.org', pair);
  });

  it('refuses a directory that group or others may write without the sticky bit (exit 3)', async () => {
    for (const mode of [0o770, 0o757]) {
      const dir = join(tmp.path, `open-${mode.toString(8)}`);
      mkdirSync(dir);
      chmodSync(dir, mode);
      const err = await refusal(dir);
      expect(err.code).toBe('KEY_DIR_UNSAFE');
      expect(err.exitCode).toBe(3);
      expect(err.message).toMatch(/writable by group or others \(mode 7[57][07]\)/);
    }
  });

  it('refuses a file where the directory should be, and a path under a file', async () => {
    const file = join(tmp.path, 'plain');
    writeFileSync(file, '');
    expect((await refusal(file)).code).toBe('KEY_DIR_UNSAFE');
    const under = await refusal(join(file, 'keys'));
    expect(under.code).toBe('KEY_DIR');
    expect(under.message).toMatch(/ENOTDIR/);
  });

  it('follows a symlink the admin named to a safe directory', async () => {
    const target = join(tmp.path, 'target');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, join(tmp.path, 'link'));
    const { publicPath } = await writeKeyPair(join(tmp.path, 'link'), 'a@example.org', pair);
    expect(readFileSync(join(target, 'a@example.org.pub.asc'), 'utf8')).toBe('PUBLIC\n');
    expect(publicPath).toBe(join(tmp.path, 'link', 'a@example.org.pub.asc'));
  });

  it.skipIf(!isRoot)('refuses a directory owned by another user (needs root to chown)', async () => {
    const dir = join(tmp.path, 'theirs');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 33, 33);
    const err = await refusal(dir);
    expect(err.code).toBe('KEY_DIR_UNSAFE');
    expect(err.message).toMatch(/belongs to uid 33/);
  });
});
