import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEncrypterCommand } from '../../../generator/encrypter-command.ts';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';
import { makeKey } from '../../helpers/keys.ts';

const tmp = tempDir();
let keyFile: string;
beforeAll(async () => {
  keyFile = join(tmp.path, 'key.asc');
  writeFileSync(keyFile, (await makeKey('dry@example.org')).publicArmored);
});
afterAll(() => tmp.dispose());

async function dryRun(over: Partial<RawEncrypterOptions>): Promise<string> {
  let out = '';
  const raw = rawOptions({ recipientKey: [keyFile], pipe: '/run/pp/www.pipe', output: '/var/log/pp/www.log', savePath: join(tmp.path, 'www.mjs'), help: true, ...over });
  await runEncrypterCommand(raw, { out: (t) => (out += t), err: () => {} }, { system: fakeSystem(), nodePath: '/usr/bin/node' });
  return out;
}

describe('the dry run names owners', () => {
  it('prints user and group names with their ids, whether they were given by name or by number', async () => {
    const out = await dryRun({ saveOwner: '0:0', saveMode: '100', runAs: '990', pipeOwner: '990:33', pipeMode: '620', rotateSize: '8M', archiveDir: '/var/a', archiveOwner: 'pplog:4' });
    expect(out).toMatch(/^copy: +\S+www\.mjs  owner root:root \(0:0\)  mode 100$/m);
    expect(out).toMatch(/^pipe: +\/run\/pp\/www\.pipe  owner pplog:www-data \(990:33\)  mode 620$/m);
    expect(out).toMatch(/^output: +\/var\/log\/pp\/www\.log  owner pplog:pplog \(990:990\)  mode 640$/m);
    expect(out).toMatch(/^run as: +pplog:pplog \(990:990\), groups pplog\(990\),adm\(4\)$/m);
    expect(out).toMatch(/^ {2}archives in \/var\/a  owner pplog:adm \(990:4\)  mode 640$/m);
    expect(out).not.toMatch(/owner 0:0|owner 990:/);
  });

  it('falls back to the ids, printed once, where the host has no name for them', async () => {
    const out = await dryRun({ saveOwner: '4242:4243', runAs: '0:4243' });
    expect(out).toMatch(/^copy: +\S+  owner 4242:4243  mode 500$/m);
    expect(out).toMatch(/^run as: +root:4243 \(0:4243\), groups 4243,root\(0\)$/m);
  });
});
