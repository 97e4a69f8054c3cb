import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInputs } from '../../../../runtime/decrypt/inputs.ts';
import { PipesError } from '../../../../runtime/errors.ts';
import { tempDir } from '../../../helpers/cli.ts';

const tmp = tempDir('pp-inputs-');
const ARMOR = '-----BEGIN PGP MESSAGE-----\n';
const put = (rel: string, content: string | Buffer = ARMOR) => writeFileSync(join(tmp.path, rel), content);

beforeAll(() => {
  mkdirSync(join(tmp.path, 'logs', 'archive'), { recursive: true });
  put('logs/www.log');
  put('logs/www.log.20261124T020000.000Z.2');
  put('logs/www.log.20261124T010000.000Z.1.aside');
  put('logs/www.log.20261124T010000.000Z.1.aside.mailed', '');
  put('logs/archive/www.log.20261123T230000.000Z.1.gz.gpg', Buffer.from([0x85, 0x01]));
  put('logs/archive/www.log.20261124T020000.000Z.1.gz.gpg', Buffer.from([0x85, 0x01]));
  put('logs/archive/.www.log.20261124T030000.000Z.1.gz.gpg.tmp', Buffer.from([0x85]));
  put('logs/app.log', '');
  put('logs/README', 'notes\n');
  put('logs/admin.sec.asc', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n');
  symlinkSync('/etc/passwd', join(tmp.path, 'logs', 'link.log'));
});
afterAll(() => tmp.dispose());

const rel = (p: string) => p.slice(tmp.path.length + 1);

describe('resolveInputs', () => {
  it('walks a directory: each source log in rotation order (archives joining their log), the live log last', async () => {
    const { inputs, skipped } = await resolveInputs([join(tmp.path, 'logs')]);
    expect(inputs.map((i) => `${i.kind} ${i.kind === 'stream' ? i.label : rel(i.path)}`)).toEqual([
      'log logs/app.log',
      'archive logs/archive/www.log.20261123T230000.000Z.1.gz.gpg',
      'log logs/www.log.20261124T010000.000Z.1.aside',
      'archive logs/archive/www.log.20261124T020000.000Z.1.gz.gpg',
      'log logs/www.log.20261124T020000.000Z.2',
      'log logs/www.log',
    ]);
    expect(skipped.map(rel).sort()).toEqual(['logs/README', 'logs/admin.sec.asc']);
  });

  it('keeps the order of named groups, names each file once, and reads "-" as standard input', async () => {
    const www = join(tmp.path, 'logs', 'www.log');
    const { inputs } = await resolveInputs([join(tmp.path, 'logs', 'app.log'), '-', www, join(tmp.path, 'logs', 'www.log.20261124T020000.000Z.2'), www]);
    expect(inputs.map((i) => (i.kind === 'stream' ? i.label : rel(i.path)))).toEqual(['logs/app.log', '<stdin>', 'logs/www.log.20261124T020000.000Z.2', 'logs/www.log']);
  });

  it('refuses a missing input and standard input twice (exit 2)', async () => {
    await expect(resolveInputs([join(tmp.path, 'nope')])).rejects.toMatchObject({ code: 'INPUT_UNREADABLE', exitCode: 2 });
    await expect(resolveInputs(['-', '-'])).rejects.toBeInstanceOf(PipesError);
  });
});
