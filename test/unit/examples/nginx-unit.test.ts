import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEncrypterCommand } from '../../../generator/encrypter-command.ts';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { ROOT, tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';
import { makeKey } from '../../helpers/keys.ts';

/**
 * examples/nginx/paranoid-pipes-www.service is what the README's "Run it as a service" command
 * writes: the command is read from the README, run as a dry run (on a host that knows pplog and
 * www-data), and the unit it prints must equal the checked-in file, whose exposure is measured.
 */
const tmp = tempDir('pp-example-');
afterAll(() => tmp.dispose());
const EXAMPLE = join(ROOT, 'examples', 'nginx', 'paranoid-pipes-www.service');
const needs = ['/usr/local/lib', '/etc/systemd/system'].filter((d) => !existsSync(d));
if (needs.length > 0) console.log(`nginx unit example skipped: the README's paths need ${needs.join(' and ')}`);

beforeAll(async () => {
  writeFileSync(join(tmp.path, 'admin@example.org.pub.asc'), (await makeKey('admin@example.org')).publicArmored);
});

/** The README's `paranoid-pipes encrypter` command under "Run it as a service", as words. */
function readmeCommand(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Run it as a service'));
  const m = /\nparanoid-pipes encrypter \\\n([\s\S]*?[^\\])\n/.exec(section);
  if (m === null) throw new Error('no paranoid-pipes encrypter command in the README section');
  const line = (m[1] as string).replace(/\\\n/g, ' ').replace('"$(openssl rand -hex 16)"', 'quit-0123456789abcdef');
  // Words, with "double quotes" as in the README (no other shell syntax there).
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((w) => w[1] ?? (w[2] as string));
}

function parse(words: readonly string[]): RawEncrypterOptions {
  const given: Record<string, unknown> = {};
  const lists = new Set(['recipientKey', 'recipient', 'header', 'serviceBefore']);
  for (let i = 0; i < words.length; i += 2) {
    const key = (words[i] as string).replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = words[i + 1] as string;
    given[key] = lists.has(key) ? [...((given[key] as string[] | undefined) ?? []), value] : value;
  }
  // Key files are read from the working directory: the README's lies in the temp dir here.
  const recipientKey = ((given.recipientKey as string[] | undefined) ?? []).map((file) => join(tmp.path, file));
  return rawOptions({ ...(given as Partial<RawEncrypterOptions>), recipientKey, help: true });
}

describe.skipIf(needs.length > 0)('examples/nginx: the unit of the README command', () => {
  it('is what the generator writes for it', async () => {
    let out = '';
    await runEncrypterCommand(parse(readmeCommand()), { out: (t) => (out += t), err: () => {} }, { system: fakeSystem(), cwd: tmp.path, nodePath: '/usr/bin/node' });
    const unit = out.slice(out.indexOf('would hold:\n') + 'would hold:\n'.length);
    expect(unit).toMatch(/^\[Unit\]/m);
    await expect(unit).toMatchFileSnapshot(EXAMPLE);
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('rates at most 1.0 with systemd-analyze security', () => {
    const report = execFileSync('systemd-analyze', ['security', '--offline=true', EXAMPLE], { encoding: 'utf8' });
    const figure = Number(/Overall exposure level for \S+: ([0-9.]+)/.exec(report)?.[1]);
    expect(figure).toBeLessThanOrEqual(1.0);
  });
});
