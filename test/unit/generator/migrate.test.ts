import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli.ts';
import { readConfigFile } from '../../../generator/config-file.ts';
import { migrate } from '../../../generator/migrate.ts';
import { shellQuote } from '../../../generator/shell-quote.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { tempDir } from '../../helpers/cli.ts';
import { SCENARIO_ONE, SCENARIO_ONE_BULK, SCENARIO_ONE_CONVERTED } from '../../helpers/scenario-one.ts';

const tmp = tempDir();
afterAll(() => tmp.dispose());

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t), env: {}, stdin: async () => Buffer.alloc(0), writeData: async () => undefined });
  return { code, out, err };
}

function errorOf(args: string[]): PipesError {
  try {
    migrate(args);
  } catch (err) {
    if (err instanceof PipesError) return err;
    throw err;
  }
  throw new Error('expected the migration to fail');
}

describe('paranoid-pipes migrate', () => {
  it('converts the scenario-one command line, option by option', () => {
    const m = migrate(SCENARIO_ONE);
    expect(m.settings).toEqual(SCENARIO_ONE_CONVERTED);
    // Every option given has its note; what has no equivalent says so.
    for (const arg of SCENARIO_ONE) expect(m.notes.some((n) => arg.startsWith(n.from))).toBe(true);
    expect(m.notes.find((n) => n.from === '--debug-level')?.kind).toBe('not-carried');
    expect(m.notes.find((n) => n.from === '--enc-pipe-permissions')?.text).toMatch(/420 becomes 620/);
    expect(m.notes.find((n) => n.to.some(([o]) => o === 'archive-dir'))?.kind).toBe('added');
  });

  it('prints a commented command with every value shell-quoted, and says what needs a look on stderr', async () => {
    const r = await runCli(['migrate', '--', ...SCENARIO_ONE, "--enc-pipe-file=/run/it's here"].filter((a) => !a.startsWith('--enc-pipe-file=/jailed')));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# paranoid-pipes migrate/);
    expect(r.out).toContain('#   --debug-level: NOT CARRIED OVER:');
    expect(r.out).toContain("  --pipe '/run/it'\\''s here' \\\n");
    expect(r.out.trimEnd().endsWith('  --help')).toBe(true);
    expect(r.err).toMatch(/1 option\(s\) not carried over, 0 still needed/);
  });

  it('--json prints a config file that --config reads back', async () => {
    const r = await runCli(['migrate', '--json', '--', ...SCENARIO_ONE]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('--help (a dry run) cannot go in a config file');
    expect(r.err).toContain('the config holds the quit string');
    const path = join(tmp.path, 'migrated.json');
    writeFileSync(path, r.out);
    chmodSync(path, 0o600);
    const file = readConfigFile(path, { cwd: tmp.path, uid: process.getuid?.() ?? 0 });
    expect(file.options).toMatchObject({ recipient: ['user@host.domain'], pipeMode: '620', runAs: 'notwwwuser:notwwwgroup', rotateSize: '8M', start: true });
    expect(file.options.help).toBeUndefined();
  });

  it.each([
    ['path-triggered bulk encryption', [SCENARIO_ONE_BULK], 'BULK_ENCRYPTION', 3, /path-triggered bulk encryption/],
    ['a passphrase for a decrypter', ['--dec-pass=/path/to/passphrase.file'], 'PASSPHRASE_BAKED', 3, /a passphrase baked into a decrypter/],
    ['decryption on the host', ['--dec-yn=yes'], 'DECRYPT_ON_HOST', 3, /paranoid-pipes decrypt/],
    ['plaintext written on the host', ['--dec-parsing-output-file=/path/to/decrypted.log'], 'DECRYPT_ON_HOST', 3, /plaintext written on the host/],
    ['an unknown option', ['--enc-pipe-permission=420'], 'MIGRATE_UNKNOWN_OPTION', 2, /did you mean --enc-pipe-permissions\?/],
    ['not an option', ['enc-pipe-file=/p'], 'MIGRATE_UNKNOWN_OPTION', 2, /look like --name=value/],
    ['a bad yes/no', ['--enc-parsing-disown-yn=sure'], 'MIGRATE_BAD_VALUE', 2, /takes yes or no, got "sure"/],
    ['a bad mode', ['--enc-pipe-permissions=rw'], 'MIGRATE_BAD_VALUE', 2, /must be an octal mode/],
    ['an option given twice', ['--enc-pipe-file=/a', '--enc-pipe-file=/b'], 'MIGRATE_REPEATED', 2, /given twice/],
    ['nothing', [], 'MIGRATE_NOTHING', 2, /after --/],
  ])('refuses %s', (_what, args, code, exitCode, message) => {
    const err = errorOf(args.length === 0 ? [] : [...SCENARIO_ONE.slice(0, 3), ...args]);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(exitCode);
    expect(err.message).toMatch(message);
  });

  it('lists every problem at once; a refusal makes it exit 3', async () => {
    const r = await runCli(['migrate', '--', ...SCENARIO_ONE, SCENARIO_ONE_BULK, '--dec-pass=/p', '--enc-pipe-permission=420']);
    expect(r.code).toBe(3);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/3 options cannot be migrated:\n {2}\[BULK_ENCRYPTION\][^\n]*\n {2}\[PASSPHRASE_BAKED\][^\n]*\n {2}\[MIGRATE_UNKNOWN_OPTION\]/);
  });

  it('with rotation off, the rotation options are reported, not converted', () => {
    const m = migrate([...SCENARIO_ONE.filter((a) => !a.startsWith('--enc-parsing-output-rotate-yn')), '--enc-parsing-output-rotate-yn=no']);
    expect(m.settings.map(([o]) => o)).not.toContain('rotate-size');
    expect(m.settings.map(([o]) => o)).not.toContain('archive-dir');
    expect(m.notes.filter((n) => n.kind === 'not-carried').map((n) => n.from)).toEqual([
      '--debug-level',
      '--enc-parsing-output-rotate-actions',
      '--enc-output-rotate-check-requency',
      '--enc-parsing-output-max-size',
      '--enc-parsing-output-rotate-recipient',
    ]);
  });

  it('emailed rotation: the rotation recipient is also the mail recipient; the sender is asked for', () => {
    const m = migrate(SCENARIO_ONE.map((a) => (a.startsWith('--enc-parsing-output-rotate-actions=') ? '--enc-parsing-output-rotate-actions=encrypted-email,remove-old' : a)));
    expect(m.settings).toContainEqual(['mail-to', 'user@host.domain']);
    expect(m.settings.map(([o]) => o)).not.toContain('archive-dir');
    expect(m.notes.filter((n) => n.kind === 'needed').map((n) => n.from)).toEqual(['--mail-from ADDRESS']);
  });

  it('Paranoid_Pipes options after `migrate` without -- get a hint', async () => {
    const r = await runCli(['migrate', '--enc-pipe-file=/p']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/put the Paranoid_Pipes options after --/);
  });
});

describe('shellQuote', () => {
  it.each([
    ['plain/path-1.mjs', 'plain/path-1.mjs'],
    ['', "''"],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ['$(reboot)`id`;\n|&', "'$(reboot)`id`;\n|&'"],
    ['~root', "'~root'"],
  ])('%j → %s', (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });
});
