import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, range } from '../helpers/e2e.ts';
import { makeKey, writeKeyFiles } from '../helpers/keys.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

describe('a recipient key that expires while the copy runs', () => {
  it('keeps encrypting to it, says so once (diagnostics and an encrypted event), and every line still decrypts, with gpg too', { timeout: 60_000 }, async () => {
    const lifetime = 6;
    const key = await makeKey('expiring@example.org', { keyExpirationTime: lifetime });
    const createdAt = key.privateKey.getCreationTime().getTime();
    const files = writeKeyFiles(fx.tmp.path, 'expiring', key);
    fx.gpg.importKey(key.privateArmored);
    const paths = await fx.generate(['--recipient-key', files.pub, '--binary'], 'expiring');
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    expect(await writerProcess(paths.pipe, 'before', 100)).toBe(100);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, createdAt + lifetime * 1000 + 500 - Date.now())));
    expect(await writerProcess(paths.pipe, 'after', 100)).toBe(100);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    expect(copy.stderr().match(/KEY_EXPIRED/g)).toHaveLength(1);
    expect(copy.stderr()).not.toMatch(/SEAL_FAILED|writer=/);
    // Both recipients were baked (fixture key + expiring key): decrypt with the expiring one.
    const r = await cli(['decrypt', '--key', files.sec, '--show-control', paths.output]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"event":"recipient-key-expired","detail":"log key: recipient key [0-9A-F]{40} is not valid at/);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('before')).toEqual(range(100));
    expect(by.get('after')).toEqual(range(100));
    // GnuPG decrypts with an expired key: the blocks written after the expiry open with stock gpg.
    expect(fx.gpgBlocks(paths.output).data.equals(r.stdout)).toBe(true);
  });
});
