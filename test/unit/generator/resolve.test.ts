import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { resolveEncrypterOptions } from '../../../generator/resolve.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';
import { makeKey, type TestKey } from '../../helpers/keys.ts';

const tmp = tempDir();
let good: TestKey;
let keyFile: string;

function raw(over: Partial<RawEncrypterOptions> = {}): RawEncrypterOptions {
  return rawOptions({
    recipientKey: [keyFile],
    pipe: join(tmp.path, 'p.pipe'),
    output: join(tmp.path, 'p.log'),
    savePath: join(tmp.path, 'copy.mjs'),
    ...over,
  });
}

// The clock is read at each call, like the CLI does: a key made in beforeAll is never in the future.
const ctx = (system = fakeSystem()) => ({ system, cwd: tmp.path, now: new Date(), version: '9.9.9', nodePath: '/usr/bin/node' });

async function errorOf(over: Partial<RawEncrypterOptions>, system = fakeSystem()): Promise<PipesError> {
  const err = await resolveEncrypterOptions(raw(over), ctx(system)).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof PipesError)) throw new Error(`expected a PipesError, got ${String(err)}`);
  return err;
}

async function keyFileOf(name: string, armored: string): Promise<string> {
  const path = join(tmp.path, name);
  writeFileSync(path, armored);
  return path;
}

beforeAll(async () => {
  good = await makeKey('good@example.org');
  keyFile = await keyFileOf('good.asc', good.publicArmored);
});
afterAll(() => tmp.dispose());

describe('resolveEncrypterOptions', () => {
  it('resolves defaults into one baked object with only public key material', async () => {
    const r = await resolveEncrypterOptions(raw({ quitString: 'a-long-secret', header: ['# vhost a'] }), ctx());
    expect(r.baked.pipe?.mode).toBe(0o600);
    expect(r.baked.output.mode).toBe(0o640);
    expect(r.save.mode).toBe(0o500);
    expect(r.baked.compress).toBe('zlib');
    expect(r.baked.armor).toBe(true);
    expect(r.baked.recipients).toHaveLength(1);
    expect(r.baked.recipients[0]!.fingerprint).toBe(good.fingerprint);
    expect(r.baked.recipients[0]!.armoredKey).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(JSON.stringify(r.baked)).not.toContain('PRIVATE KEY');
    expect(r.dryRun).toBe(false);
  });

  it('resolves owners by name, with the run-as user supplementary groups', async () => {
    const r = await resolveEncrypterOptions(raw({ runAs: 'pplog', pipeOwner: 'pplog:www-data', pipeMode: '620', outputOwner: 'pplog:adm' }), ctx());
    expect(r.baked.runAs).toMatchObject({ uid: 990, gid: 990, groups: [990, 4] });
    expect(r.baked.pipe?.owner).toMatchObject({ uid: 990, gid: 33 });
    expect(r.baked.output.owner).toMatchObject({ uid: 990, gid: 4 });
  });

  it('names owners given by number, or by user alone, as user:group; ids without a name stay numbers', async () => {
    const r = await resolveEncrypterOptions(raw({ saveOwner: '0:0', runAs: '990', pipeOwner: '990:33', pipeMode: '620', outputOwner: 'pplog:4', archiveDir: '/var/a', rotateSize: '8M', archiveOwner: '990:990' }), ctx());
    expect(r.save.owner).toEqual({ uid: 0, gid: 0, label: 'root:root' });
    expect(r.baked.runAs).toMatchObject({ uid: 990, gid: 990, label: 'pplog:pplog' });
    expect(r.baked.pipe?.owner.label).toBe('pplog:www-data');
    expect(r.baked.output.owner.label).toBe('pplog:adm');
    expect(r.baked.rotation?.archive?.owner.label).toBe('pplog:pplog');
    const unnamed = await resolveEncrypterOptions(raw({ saveOwner: '4242:4243', runAs: '0:4243' }), ctx());
    expect(unnamed.save.owner.label).toBe('4242:4243');
    expect(unnamed.baked.runAs.label).toBe('root:4243');
    // The generator's own user (the default save owner) is named too.
    expect((await resolveEncrypterOptions(raw(), ctx(fakeSystem({}, 33)))).save.owner.label).toBe('www-data:www-data');
  });

  it('bakes no pipe for a copy of watched files or sessions given without --pipe', async () => {
    const files = await resolveEncrypterOptions(raw({ pipe: undefined, watchFile: ['/var/log/app/x.log'] }), ctx());
    expect(files.baked.pipe).toBeNull();
    expect(files.baked.quitString).toBeNull();
    expect(files.baked.watch?.files).toEqual(['/var/log/app/x.log']);
    const sessions = await resolveEncrypterOptions(raw({ pipe: undefined, sessionDir: '/run/pp-test/sessions' }), ctx());
    expect(sessions.baked.pipe).toBeNull();
    // Given anyway, the pipe is made and read beside the files, as before.
    const both = await resolveEncrypterOptions(raw({ watchFile: ['/var/log/app/x.log'] }), ctx());
    expect(both.baked.pipe?.path).toBe(join(tmp.path, 'p.pipe'));
  });

  it('bakes the session-key window: 60 s by default, 0 for a fresh key per block', async () => {
    expect((await resolveEncrypterOptions(raw({}), ctx())).baked.sessionKeyWindowMs).toBe(60_000);
    expect((await resolveEncrypterOptions(raw({ sessionKeyWindow: '0' }), ctx())).baked.sessionKeyWindowMs).toBe(0);
    expect((await resolveEncrypterOptions(raw({ sessionKeyWindow: '5m' }), ctx())).baked.sessionKeyWindowMs).toBe(300_000);
  });

  const cases: Array<[string, Partial<RawEncrypterOptions>, string, RegExp]> = [
    ['no recipient', { recipientKey: [] }, 'NO_RECIPIENT', /--recipient-key/],
    ['no source at all', { pipe: undefined }, 'NO_SOURCE', /give --pipe PATH .*, --watch-file PATH or --session-dir DIR/],
    ['an empty --pipe', { pipe: '' }, 'MISSING_OPTION', /--pipe is required/],
    ['a pipe owner without a pipe', { pipe: undefined, watchFile: ['/var/log/app/x.log'], pipeOwner: 'pplog:www-data' }, 'PIPE_OPTION_ALONE', /--pipe-owner needs --pipe/],
    ['a pipe mode without a pipe', { pipe: undefined, watchFile: ['/var/log/app/x.log'], pipeMode: '620' }, 'PIPE_OPTION_ALONE', /--pipe-mode needs --pipe/],
    ['a quit string without a pipe', { pipe: undefined, sessionDir: '/run/pp-test/sessions', quitString: 'a-long-secret' }, 'PIPE_OPTION_ALONE', /--quit-string needs --pipe: .*SIGTERM or SIGINT/],
    ['missing --output', { output: undefined }, 'MISSING_OPTION', /--output is required/],
    ['missing --save-path', { savePath: undefined }, 'MISSING_OPTION', /--save-path is required/],
    ['a copy named like a shell script', { savePath: join(tmp.path, 'copy.sh') }, 'SAVE_PATH_EXTENSION', /--save-path must end in \.mjs/],
    ['same path twice', { output: join(tmp.path, 'p.pipe') }, 'SAME_PATH', /--output and --pipe/],
    ['non-octal mode', { pipeMode: 'rw-r--r--' }, 'BAD_MODE', /--pipe-mode must be an octal mode like 640, got "rw-r--r--"/],
    ['readable pipe', { pipeMode: '644' }, 'BAD_MODE', /--pipe-mode 644: group and others may only write/],
    ['pipe owner cannot read', { pipeMode: '220' }, 'BAD_MODE', /owner \(the copy\) must be able to read/],
    ['group-writable log', { outputMode: '660' }, 'BAD_MODE', /--output-mode 660/],
    ['copy others can modify', { saveMode: '777' }, 'BAD_MODE', /--save-mode 777/],
    ['copy not executable', { saveMode: '400' }, 'BAD_MODE', /must be able to execute/],
    ['unknown compression', { compress: 'zlb' }, 'BAD_CHOICE', /--compress must be one of zlib, none, got "zlb" \(did you mean zlib\?\)/],
    ['unknown log level', { logLevel: 'verbose' }, 'BAD_CHOICE', /--log-level must be one of error, warn, info, debug/],
    ['armor and binary', { armor: true, binary: true }, 'ARMOR_AND_BINARY', /exclude each other/],
    ['short quit string', { quitString: 'quit' }, 'WEAK_QUIT_STRING', /at least 8/],
    ['multi-line quit string', { quitString: 'stop\nnow-please' }, 'BAD_LINE', /--quit-string must be one line/],
    ['multi-line header', { header: ['ok', 'a\nb'] }, 'BAD_LINE', /--header #2/],
    ['bad owner syntax', { saveOwner: 'a:b:c' }, 'BAD_OWNER', /--save-owner must be USER:GROUP/],
    ['unknown user', { runAs: 'nosuchuser' }, 'UNKNOWN_USER', /--run-as: no user "nosuchuser"/],
    ['unknown group', { pipeOwner: 'pplog:nosuchgroup' }, 'UNKNOWN_GROUP', /no group "nosuchgroup"/],
    ['a log the run-as user could not recreate', { runAs: 'pplog', outputOwner: 'www-data:adm' }, 'OUTPUT_OWNER_NOT_RUN_AS', /--output-owner www-data:adm must be the run-as user pplog/],
    ['a log group the run-as user is not in', { runAs: 'pplog', outputOwner: 'pplog:www-data' }, 'OUTPUT_OWNER_NOT_RUN_AS', /one of its groups \(990,4\)/],
    ['a size with a space', { rotateSize: '8 MB' }, 'BAD_SIZE', /--rotate-size must be a size like 8M, 512K or 1G, got "8 MB"/],
    ['a tiny rotate size', { rotateSize: '100' }, 'BAD_SIZE', /at least 4K/],
    ['a bad interval', { rotateSize: '8M', rotateInterval: '1 hour' }, 'BAD_DURATION', /--rotate-interval must be a duration like 30s/],
    ['a session-key window without a unit', { sessionKeyWindow: '60' }, 'BAD_DURATION', /--session-key-window must be 0 or a duration like 60s, 5m or 1h, got "60"/],
    ['a session-key window over an hour', { sessionKeyWindow: '2h' }, 'BAD_DURATION', /--session-key-window must be at most 1h/],
    ['a bad check count', { rotateSize: '8M', rotateCheckEvery: '0' }, 'BAD_NUMBER', /--rotate-check-every must be a whole number/],
    ['an unknown action', { rotateSize: '8M', rotateActions: 'compress-encrypt,remove-olds', archiveDir: '/var/archive' }, 'BAD_ACTION', /unknown action "remove-olds".*did you mean remove-old\?/],
    ['remove-old alone', { rotateSize: '8M', rotateActions: 'remove-old' }, 'REMOVE_WITHOUT_COPY', /remove-old needs compress-encrypt or encrypted-email/],
    ['compress-encrypt without archive dir', { rotateSize: '8M' }, 'MISSING_OPTION', /--archive-dir is required by the compress-encrypt action/],
    ['archives in the log directory', { rotateSize: '8M', archiveDir: tmp.path }, 'SAME_PATH', /--archive-dir must not be the directory of --output/],
    ['e-mail without addresses', { rotateSize: '8M', rotateActions: 'encrypted-email' }, 'MISSING_OPTION', /needs --mail-to and --mail-from/],
    ['a bad mail address', { rotateSize: '8M', rotateActions: 'encrypted-email', mailTo: ['ops'], mailFrom: 'pp@example.org' }, 'BAD_EMAIL', /--mail-to must be an address/],
    ['a bad transport', { rotateSize: '8M', rotateActions: 'encrypted-email', mailTo: ['ops@example.org'], mailFrom: 'pp@example.org', mailTransport: 'http://x' }, 'BAD_TRANSPORT', /--mail-transport must be sendmail/],
    ['mail options without the e-mail action', { rotateSize: '8M', archiveDir: '/var/archive', mailTo: ['ops@example.org'] }, 'UNUSED_OPTION', /go with the encrypted-email action/],
    ['rotation options without a size or interval', { archiveDir: '/var/archive' }, 'ROTATION_OFF', /need --rotate-size/],
    ['archives the run-as user could not write', { runAs: 'pplog', rotateSize: '8M', archiveDir: '/var/archive', archiveOwner: 'www-data' }, 'ARCHIVE_OWNER_NOT_RUN_AS', /--archive-owner www-data/],
    ['missing key file', { recipientKey: ['/nonexistent/key.asc'] }, 'KEY_FILE_UNREADABLE', /ENOENT/],
    ['save dir missing', { savePath: '/nonexistent-dir/copy.mjs' }, 'SAVE_DIR_MISSING', /does not exist/],
  ];
  for (const [name, over, code, message] of cases) {
    it(`refuses ${name} with ${code}`, async () => {
      const err = await errorOf(over);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    });
  }

  it('resolves rotation: sizes, intervals, actions, the archive key defaulting to the log key', async () => {
    const r = await resolveEncrypterOptions(raw({ rotateSize: '8M', rotateInterval: '1h', archiveDir: '/var/archive/www' }), ctx());
    expect(r.baked.rotation).toMatchObject({
      maxBytes: 8 * 1024 * 1024,
      intervalMs: 3_600_000,
      checkEvery: 100,
      actions: ['compress-encrypt', 'remove-old'],
      archive: { path: '/var/archive/www', mode: 0o640 },
      mail: null,
    });
    expect(r.baked.rotation!.recipients.map((k) => k.fingerprint)).toEqual([good.fingerprint]);
    const mail = await resolveEncrypterOptions(
      raw({ rotateSize: '512K', rotateActions: 'encrypted-email', mailTo: ['a@example.org', 'b@example.org'], mailFrom: 'pp@example.org', mailTransport: 'smtp://127.0.0.1:2525' }),
      ctx(),
    );
    expect(mail.baked.rotation).toMatchObject({ maxBytes: 512 * 1024, archive: null, mail: { to: ['a@example.org', 'b@example.org'], transport: { kind: 'smtp', url: 'smtp://127.0.0.1:2525' } } });
    expect((await resolveEncrypterOptions(raw(), ctx())).baked.rotation).toBeNull();
  });

  it('refuses a secret key as the rotation key too', async () => {
    const err = await errorOf({ rotateSize: '8M', archiveDir: '/var/archive', rotateRecipientKey: [await keyFileOf('rot-secret.asc', good.privateArmored)] });
    expect(err.code).toBe('SECRET_KEY');
    expect(err.message).toMatch(/--rotate-recipient-key/);
  });

  it('refuses a save directory others can write', async () => {
    const dir = join(tmp.path, 'open');
    mkdirSync(dir, { mode: 0o777 });
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o777);
    const err = await errorOf({ savePath: join(dir, 'copy.mjs') });
    expect(err.code).toBe('CHAIN_WRITABLE');
    expect(err.exitCode).toBe(3);
  });

  it('refuses to give the copy to another user when not root', async () => {
    const err = await errorOf({ saveOwner: 'www-data' }, fakeSystem({}, 1000));
    expect(err.code).toBe('NEED_ROOT');
  });

  describe('key refusals', () => {
    it('refuses a secret key file, armored or binary, and says how to export the public key', async () => {
      const armored = await keyFileOf('secret.asc', good.privateArmored);
      const binaryPath = join(tmp.path, 'secret.gpg');
      writeFileSync(binaryPath, good.privateKey.write());
      for (const file of [armored, binaryPath]) {
        const err = await errorOf({ recipientKey: [file] });
        expect(err.code).toBe('SECRET_KEY');
        expect(err.exitCode).toBe(3);
        expect(err.message).toMatch(/gpg --export --armor/);
      }
    });

    it('refuses an expired key', async () => {
      const k = await makeKey('old@example.org', { date: new Date(Date.now() - 10 * 86400_000), keyExpirationTime: 86400 });
      expect((await errorOf({ recipientKey: [await keyFileOf('expired.asc', k.publicArmored)] })).code).toBe('KEY_EXPIRED');
    });

    it('refuses a key created after the host clock, naming the clock as the cause', async () => {
      const k = await makeKey('future@example.org', { date: new Date(Date.now() + 3600_000) });
      const err = await errorOf({ recipientKey: [await keyFileOf('future.asc', k.publicArmored)] });
      expect(err.code).toBe('KEY_FROM_THE_FUTURE');
      expect(err.message).toMatch(/check the clocks/);
    });

    it('refuses a revoked key', async () => {
      const { publicKey } = await openpgp.revokeKey({ key: good.privateKey, format: 'armored' });
      expect((await errorOf({ recipientKey: [await keyFileOf('revoked.asc', publicKey)] })).code).toBe('KEY_REVOKED');
    });

    it('refuses a key with no encryption subkey', async () => {
      const k = await makeKey('signonly@example.org', { subkeys: [] });
      const err = await errorOf({ recipientKey: [await keyFileOf('signonly.asc', k.publicArmored)] });
      expect(err.code).toBe('KEY_NO_ENCRYPTION');
    });

    it('refuses a v6 key, which GnuPG 2.2/2.4 cannot use', async () => {
      const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'v6@example.org' }], config: { v6Keys: true }, format: 'armored' });
      expect((await errorOf({ recipientKey: [await keyFileOf('v6.asc', publicKey)] })).code).toBe('KEY_VERSION');
    });

    it('refuses a file that is no key', async () => {
      expect((await errorOf({ recipientKey: [await keyFileOf('junk.asc', 'hello')] })).code).toBe('KEY_UNREADABLE');
    });

    it('takes --recipient from the GnuPG keyring, and refuses an unknown or ambiguous one', async () => {
      const other = await makeKey('other@example.org');
      const keyring = {
        'good@example.org': Buffer.from(good.publicArmored),
        both: Buffer.concat([(await openpgp.readKey({ armoredKey: good.publicArmored })).write(), (await openpgp.readKey({ armoredKey: other.publicArmored })).write()]),
      };
      const r = await resolveEncrypterOptions(raw({ recipientKey: [], recipient: ['good@example.org'] }), ctx(fakeSystem(keyring)));
      expect(r.baked.recipients.map((x) => x.fingerprint)).toEqual([good.fingerprint]);
      expect((await errorOf({ recipientKey: [], recipient: ['nobody@example.org'] }, fakeSystem(keyring))).code).toBe('KEY_NOT_IN_KEYRING');
      expect((await errorOf({ recipientKey: [], recipient: ['both'] }, fakeSystem(keyring))).code).toBe('KEY_AMBIGUOUS');
    });
  });
});
