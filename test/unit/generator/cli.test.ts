import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli.ts';
import { optionsMarkdownTable } from '../../../generator/options.ts';
import { ROOT, tempDir } from '../../helpers/cli.ts';
import { makeKey } from '../../helpers/keys.ts';

const tmp = tempDir();
let keyFile: string;

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: {},
    stdin: async () => Buffer.alloc(0),
    writeData: async (b) => void (out += Buffer.from(b).toString()),
  });
  return { code, out, err };
}

beforeAll(async () => {
  const key = await makeKey('cli@example.org');
  keyFile = join(tmp.path, 'key.asc');
  writeFileSync(keyFile, key.publicArmored);
});
afterAll(() => tmp.dispose());

const base = () => ['encrypter', '--recipient-key', keyFile, '--pipe', join(tmp.path, 'a.pipe'), '--output', join(tmp.path, 'a.log'), '--save-path', join(tmp.path, 'copy.mjs')];

describe('paranoid-pipes CLI', () => {
  it('--help with other options is a dry run: prints what would be baked, redacts the quit string, writes nothing', async () => {
    const before = readdirSync(tmp.path).sort();
    const r = await runCli([...base(), '--quit-string', 'super-secret-quit', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dry run/);
    expect(r.out).toContain(join(tmp.path, 'a.pipe'));
    expect(r.out).toMatch(/quit string: +<redacted>/);
    expect(r.out).not.toContain('super-secret-quit');
    expect(readdirSync(tmp.path).sort()).toEqual(before);
  });

  it('a dry run still validates: a bad value fails with exit 2 and writes nothing', async () => {
    const before = readdirSync(tmp.path).sort();
    const r = await runCli([...base(), '--pipe-mode', '666', '--help']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error \[BAD_MODE\]: --pipe-mode 666/);
    expect(readdirSync(tmp.path).sort()).toEqual(before);
  });

  it('the dry run shows rotation: when, actions, the archive key and where archives and mail go', async () => {
    const r = await runCli([...base(), '--rotate-size', '8M', '--rotate-actions', 'compress-encrypt,encrypted-email,remove-old', '--archive-dir', '/var/archive/www',
      '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', 'smtp://127.0.0.1:25', '--help']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/rotation: +at 8388608 bytes \(checked every 100 appends\); compress-encrypt, encrypted-email, remove-old/);
    expect(r.out).toMatch(/archive key [0-9A-F]{40}/);
    expect(r.out).toContain('archives in /var/archive/www  owner');
    expect(r.out).toContain('mail from pp@example.org to ops@example.org via smtp://127.0.0.1:25');
  });

  it('--help alone prints usage', async () => {
    const r = await runCli(['encrypter', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: paranoid-pipes encrypter/);
    expect(r.out).toContain('--recipient-key <file>');
  });

  it('an unknown option gets a suggestion and exit 2', async () => {
    const r = await runCli([...base(), '--pipe-mod', '600']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option '--pipe-mod'/);
    expect(r.err).toMatch(/Did you mean --pipe-mode\?/);
  });

  it('a secret key is refused with exit 3', async () => {
    const key = await makeKey('secret@example.org');
    const secret = join(tmp.path, 'sec.asc');
    writeFileSync(secret, key.privateArmored);
    const r = await runCli(['encrypter', '--recipient-key', secret, '--pipe', '/tmp/x.pipe', '--output', '/tmp/x.log', '--save-path', join(tmp.path, 'c.mjs')]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/SECRET_KEY/);
    expect(readdirSync(tmp.path)).not.toContain('c.mjs');
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.out.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('the README options table is the one generated from the option table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(optionsMarkdownTable());
  });
});
