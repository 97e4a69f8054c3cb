import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecretKeys } from '../../../generator/log-inputs.ts';
import { ASK_OPENPGP, nativeSessionKey } from '../../../runtime/decrypt/decryption-keys.ts';
import { sessionKeyFor } from '../../../runtime/decrypt/fast-open.ts';
import { readPacket } from '../../../runtime/format/split.ts';
import { tempDir } from '../../helpers/cli.ts';
import { TempGpg } from '../../helpers/gpg.ts';
import { makeKey } from '../../helpers/keys.ts';

/**
 * `--key` files as decrypt and verify load them: natively for the Curve25519 shape, with
 * openpgp.js for anything else, and the same error codes either way.
 */
const PASS = 'log inputs passphrase';
const gpg = new TempGpg();
const dir = tempDir('pp-keys-');
const files: Record<string, string> = {};
let mixedNistSubkey = '';

const file = (name: string, text: string | Buffer) => {
  const path = join(dir.path, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};

beforeAll(async () => {
  const pass = ['--pinentry-mode', 'loopback', '--passphrase', PASS];
  gpg.run([...pass, '--quick-gen-key', 'locked@example.org', 'future-default', 'default', 'never']);
  files.locked = file('locked.asc', gpg.run([...pass, '--armor', '--export-secret-keys', 'locked@example.org']));
  // An admin's key with a NIST P-256 encryption subkey (not read natively) added beside the cv25519 one.
  gpg.run([...pass, '--quick-gen-key', 'mixed@example.org', 'future-default', 'default', 'never']);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg.run(['--with-colons', '--list-keys', 'mixed@example.org']).toString())![1]!;
  gpg.run([...pass, '--quick-add-key', fpr, 'nistp256', 'encr', 'never']);
  files.mixed = file('mixed.asc', gpg.run([...pass, '--armor', '--export-secret-keys', 'mixed@example.org']));
  mixedNistSubkey = gpg
    .run(['--with-colons', '--list-keys', 'mixed@example.org'])
    .toString()
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'sub' && f[16] === 'nistp256')![4]!;
  files.nist = file('nist.asc', (await makeKey('nist@example.org', { curve: 'nistP256' } as never)).privateArmored);
  files.junk = file('junk.asc', 'hello\n');
}, 120_000);
afterAll(() => {
  gpg.dispose();
  dir.dispose();
});

const given = (value: string | null) => {
  const asked: string[] = [];
  return { asked, passphrase: async (fingerprint: string) => (asked.push(fingerprint), value) };
};
const codeOf = (p: Promise<unknown>) => p.then(() => 'none', (err: { code?: string }) => err.code);

describe('loadSecretKeys', () => {
  it('reads a gpg key with a passphrase natively, asking for it by the primary fingerprint', async () => {
    const { asked, passphrase } = given(PASS);
    const [key] = await loadSecretKeys([files.locked!], '--key', passphrase);
    const reference = await openpgp.readPrivateKey({ armoredKey: readFileSync(files.locked!, 'utf8') });
    expect(asked).toEqual([reference.getFingerprint().toUpperCase()]);
    expect(key!.native).toHaveLength(1);
    expect(key!.otherKeyIds).toEqual(new Set());
  });

  it('says PASSPHRASE_NEEDED and BAD_PASSPHRASE as before', async () => {
    expect(await codeOf(loadSecretKeys([files.locked!], '--key', given(null).passphrase))).toBe('PASSPHRASE_NEEDED');
    expect(await codeOf(loadSecretKeys([files.locked!], '--key', given('wrong').passphrase))).toBe('BAD_PASSPHRASE');
  });

  it('refuses a damaged key and a file that is no key (KEY_UNREADABLE)', async () => {
    const lines = readFileSync(files.locked!, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.length > 40);
    lines[i] = `${lines[i]!.slice(0, 20)}${lines[i]![20] === 'Q' ? 'R' : 'Q'}${lines[i]!.slice(21)}`;
    const damaged = file('damaged.asc', lines.join('\n'));
    await expect(loadSecretKeys([damaged], '--archive-key', given(PASS).passphrase)).rejects.toMatchObject({ code: 'KEY_UNREADABLE', message: expect.stringMatching(/--archive-key ".*damaged\.asc": damaged secret key: its armor checksum/) });
    await expect(loadSecretKeys([files.junk!], '--key', given(null).passphrase)).rejects.toMatchObject({ code: 'KEY_UNREADABLE', message: expect.stringMatching(/not an armored OpenPGP secret key/) });
  });

  it('leaves a key of another curve to openpgp.js', async () => {
    const [key] = await loadSecretKeys([files.nist!], '--key', given(null).passphrase);
    expect(key!.native).toEqual([]);
    expect(key!.otherKeyIds).toBeNull();
    expect((await key!.openpgp()).isDecrypted()).toBe(true);
  });

  it('opens a message for the P-256 subkey of a mixed key through openpgp.js, one for its cv25519 subkey natively', async () => {
    const [key] = await loadSecretKeys([files.mixed!], '--key', given(PASS).passphrase);
    expect(key!.native).toHaveLength(1);
    expect([...key!.otherKeyIds!]).toEqual([mixedNistSubkey]);
    const encrypt = (recipient: string) => gpg.run(['--trust-model', 'always', '--encrypt', '--recipient', recipient], 'x\n');
    const keyPackets = (msg: Buffer) => msg.subarray(0, (readPacket(msg, 0) as { end: number }).end);
    const toNist = keyPackets(encrypt(`${mixedNistSubkey}!`));
    expect(nativeSessionKey(toNist, [key!])).toBe(ASK_OPENPGP);
    const viaOpenpgp = await sessionKeyFor(toNist, [key!], undefined);
    const [reference] = await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: toNist }), decryptionKeys: await key!.openpgp() });
    expect(Buffer.from(viaOpenpgp!.data).equals(Buffer.from(reference!.data))).toBe(true);
    const toCv = keyPackets(encrypt(`${key!.native[0]!.keyId}!`));
    expect(nativeSessionKey(toCv, [key!])).not.toBe(ASK_OPENPGP);
  });
});
