import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { resolveEncrypterOptions } from '../../../generator/resolve.ts';
import { renderInitScript, renderUnit } from '../../../generator/service-render.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';
import { makeKey } from '../../helpers/keys.ts';

const tmp = tempDir();
let keyFile: string;
beforeAll(async () => {
  keyFile = join(tmp.path, 'k.asc');
  writeFileSync(keyFile, (await makeKey('svc@example.org')).publicArmored);
});
afterAll(() => tmp.dispose());

/** The README's service command, with the copy and unit in the temp dir. */
function raw(over: Partial<RawEncrypterOptions> = {}): RawEncrypterOptions {
  return rawOptions({
    recipientKey: [keyFile],
    pipe: '/run/paranoid-pipes/www.pipe',
    pipeOwner: 'pplog:www-data',
    pipeMode: '620',
    output: '/var/log/paranoid-pipes/www.log.asc',
    savePath: join(tmp.path, 'www.mjs'),
    saveOwner: 'root:pplog',
    saveMode: '550',
    runAs: 'pplog',
    quitString: 'quit-0123456789',
    systemdUnit: join(tmp.path, 'pp-www.service'),
    serviceBefore: ['nginx.service'],
    help: true,
    ...over,
  });
}
const ctx = () => ({ system: fakeSystem(), cwd: tmp.path, now: new Date(), version: '9.9.9', nodePath: '/usr/bin/node' });

async function errorOf(over: Partial<RawEncrypterOptions>): Promise<PipesError> {
  const err = await resolveEncrypterOptions(raw(over), ctx()).then(() => null, (e: unknown) => e);
  if (!(err instanceof PipesError)) throw new Error(`expected a PipesError, got ${String(err)}`);
  return err;
}

describe('service options', () => {
  it('resolves the run-as shape: names, the writers\' group as a supplementary group, /run and /var/log directories', async () => {
    const r = await resolveEncrypterOptions(raw(), ctx());
    const model = r.service!.model;
    expect(model).toMatchObject({ user: 'pplog', group: 'pplog', supplementaryGroups: ['www-data'], runtimeDirectories: ['paranoid-pipes'], logsDirectories: ['paranoid-pipes'], readWritePaths: [], before: ['nginx.service'], startAs: 'run-as' });
    const unit = renderUnit(model, r.service!.unit!.path, '9.9.9');
    expect(unit).toMatch(/^User=pplog$/m);
    expect(unit).toMatch(/^SupplementaryGroups=www-data$/m);
    expect(unit).toMatch(/^Before=nginx.service$/m);
    expect(unit).toMatch(/^RequiredBy=nginx.service$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=$/m);
    expect(unit).toMatch(/^PrivateNetwork=yes$/m);
    expect(unit).toMatch(/^TimeoutStopSec=90s$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    const script = renderInitScript(model, join(tmp.path, 'pp-www'), '9.9.9', '/usr/bin/node');
    expect(script).toMatch(/^# X-Start-Before: +nginx$/m);
    expect(script).toMatch(/^PIPE='\/run\/paranoid-pipes\/www.pipe'$/m);
    expect(script).toMatch(/^PIDFILE='\/run\/pp-www.pid'$/m);
  });

  const refusals: Array<[string, Partial<RawEncrypterOptions>, string, RegExp]> = [
    ['a copy only root can read, in the run-as shape', { saveOwner: 'root:root', saveMode: '100' }, 'UNIT_CANNOT_START', /--save-owner root:<run-as group> --save-mode 550.*--unit-start-as root/],
    ['a copy the writers\' group can read (quit string inside)', { saveOwner: 'root:www-data', saveMode: '550' }, 'COPY_READABLE_BY_WRITERS', /writers' group/],
    ['a copy its group reads when that group also writes the pipe', { pipeOwner: 'pplog:pplog' }, 'COPY_READABLE_BY_WRITERS', /writers' group/],
    ['a copy everyone can read', { saveMode: '555' }, 'COPY_READABLE_BY_WRITERS', /every user/],
    ['run-as root in the run-as shape', { runAs: 'root', pipeOwner: 'root:www-data', saveOwner: 'root:root' }, 'UNIT_RUN_AS_ROOT', /--unit-start-as root/],
    ['a pipe owner other than the run-as user', { pipeOwner: 'www-data:www-data' }, 'UNIT_PIPE_OWNER', /can only create its pipe as that user/],
    ['a unit name without its suffix', { serviceBefore: ['nginx'] }, 'BAD_UNIT_NAME', /did you mean nginx.service/],
    ['a path that cannot be written in a unit', { output: '/var/log/paranoid pipes/www.log.asc' }, 'UNSAFE_FOR_SERVICE', /--output/],
    ['a % specifier in a path', { pipe: '/run/pp/%n.pipe' }, 'UNSAFE_FOR_SERVICE', /--pipe/],
    ['/run itself as the pipe directory', { pipe: '/run/www.pipe' }, 'DIRECTORY_OF_ITS_OWN', /directory of their own under \/run /],
    ['/var/log itself as the log directory', { output: '/var/log/www.log.asc' }, 'DIRECTORY_OF_ITS_OWN', /under \/var\/log /],
    ['--service-before without a unit or script', { systemdUnit: undefined }, 'UNUSED_OPTION', /--service-before goes with/],
    ['--unit-start-as without a unit', { systemdUnit: undefined, serviceBefore: [], initScript: join(tmp.path, 'pp-x'), unitStartAs: 'root' }, 'UNUSED_OPTION', /--unit-start-as goes with --systemd-unit/],
    ['--start beside a unit', { start: true }, 'START_WITH_SERVICE', /second copy/],
    ['a bad --unit-start-as', { unitStartAs: 'rot' }, 'BAD_CHOICE', /did you mean root/],
    ['a unit in a directory that does not exist', { systemdUnit: '/nonexistent/pp.service' }, 'SERVICE_DIR_MISSING', /does not exist/],
  ];
  for (const [name, over, code, message] of refusals) {
    it(`refuses ${name} (${code})`, async () => {
      const err = await errorOf(over);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    });
  }

  it('accepts a copy only root can read when the unit starts as root, and gives root only the capabilities it needs', async () => {
    const r = await resolveEncrypterOptions(raw({ saveOwner: 'root:root', saveMode: '100', unitStartAs: 'root' }), ctx());
    const unit = renderUnit(r.service!.model, r.service!.unit!.path, '9.9.9');
    expect(unit).not.toMatch(/^User=/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_SETUID CAP_SETGID$/m);
    // The log directory keeps the owner the admin gave it: no LogsDirectory= (it would chown it to root).
    expect(unit).not.toMatch(/^LogsDirectory=/m);
    expect(unit).toMatch(/^ReadWritePaths=\/var\/log\/paranoid-pipes$/m);
  });

  it('watched files: their directories writable only with --consume; a session directory lifts RestrictSUIDSGID for its setgid bit', async () => {
    const plain = await resolveEncrypterOptions(raw(), ctx());
    expect(renderUnit(plain.service!.model, plain.service!.unit!.path, '9.9.9')).toMatch(/^RestrictSUIDSGID=yes$/m);
    const read = await resolveEncrypterOptions(raw({ watchFile: ['/var/log/app/x.log'] }), ctx());
    expect(read.service!.model.readWritePaths).toEqual([]);
    const consumed = await resolveEncrypterOptions(raw({ watchFile: ['/var/log/app/x.log', '/var/log/app/*.log'], consume: true }), ctx());
    // The directory, not the file: a file bound into the unit would hide logrotate's new one.
    expect(consumed.service!.model.readWritePaths).toEqual(['/var/log/app']);
    const sessions = await resolveEncrypterOptions(raw({ sessionDir: '/run/paranoid-pipes/sessions' }), ctx());
    const unit = renderUnit(sessions.service!.model, sessions.service!.unit!.path, '9.9.9');
    expect(unit).toMatch(/^RestrictSUIDSGID=no$/m);
    expect(unit).toMatch(/^RuntimeDirectory=paranoid-pipes$/m);
  });

  it('a copy without a pipe: the unit waits for no pipe, no pipe directory or group; the init script waits for the open log', async () => {
    const noPipe = { pipe: undefined, pipeOwner: undefined, pipeMode: undefined, quitString: undefined, watchFile: ['/var/log/app/x.log'] };
    const r = await resolveEncrypterOptions(raw(noPipe), ctx());
    const { model } = r.service!;
    expect(model.pipePath).toBeNull();
    // The pipe's group (www-data) was only there for the pipe.
    expect(model.supplementaryGroups).toEqual([]);
    expect(model.runtimeDirectories).toEqual([]);
    const unit = renderUnit(model, r.service!.unit!.path, '9.9.9');
    expect(unit).not.toMatch(/ExecStartPost|wait-for-pipe/);
    expect(unit).toMatch(/^Description=paranoid-pipes encrypter into \/var\/log\/paranoid-pipes\/www\.log\.asc /m);
    expect(unit).toMatch(/^Before=nginx\.service$/m);
    const init = renderInitScript(model, join(tmp.path, 'pp-www'), '9.9.9', '/usr/bin/node');
    expect(init).not.toMatch(/PIPE/);
    expect(init).toMatch(/^OUTPUT='\/var\/log\/paranoid-pipes\/www\.log\.asc'$/m);
    expect(init).toMatch(/until holds_log; do/);
    // With a pipe, the unit and the script wait for it as before.
    const piped = await resolveEncrypterOptions(raw(), ctx());
    expect(renderUnit(piped.service!.model, piped.service!.unit!.path, '9.9.9')).toMatch(/^ExecStartPost=.* wait-for-pipe \/run\/paranoid-pipes\/www\.pipe$/m);
    expect(renderInitScript(piped.service!.model, join(tmp.path, 'pp-www'), '9.9.9', '/usr/bin/node')).not.toMatch(/holds_log/);
  });

  it('opens the network only for SMTP, and only to an IP literal host', async () => {
    const mail = { rotateSize: '8M', rotateActions: 'encrypted-email', mailTo: ['ops@example.org'], mailFrom: 'pp@example.org' };
    const smtp = await resolveEncrypterOptions(raw({ ...mail, mailTransport: 'smtp://127.0.0.1:25' }), ctx());
    const unit = renderUnit(smtp.service!.model, smtp.service!.unit!.path, '9.9.9');
    expect(unit).not.toMatch(/^PrivateNetwork=yes$/m);
    expect(unit).toMatch(/^IPAddressAllow=127.0.0.1$/m);
    const sendmail = await resolveEncrypterOptions(raw(mail), ctx());
    expect(renderUnit(sendmail.service!.model, sendmail.service!.unit!.path, '9.9.9')).not.toMatch(/^NoNewPrivileges=/m);
  });

  it('--report-every mails through the same path: SMTP opens the network to that address only', async () => {
    const r = await resolveEncrypterOptions(raw({ reportEvery: '1d', mailTo: ['ops@example.org'], mailFrom: 'pp@example.org', mailTransport: 'smtp://127.0.0.1:25' }), ctx());
    const unit = renderUnit(r.service!.model, r.service!.unit!.path, '9.9.9');
    expect(unit).toMatch(/^IPAddressAllow=127.0.0.1$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
  });

  it('--monitor paths stay visible: a shared /tmp when they are there', async () => {
    const plain = await resolveEncrypterOptions(raw({ monitor: ['/etc/passwd'] }), ctx());
    expect(renderUnit(plain.service!.model, plain.service!.unit!.path, '9.9.9')).toMatch(/^ProtectHome=yes$/m);
    const inTmp = await resolveEncrypterOptions(raw({ monitor: [tmp.path] }), ctx());
    expect(renderUnit(inTmp.service!.model, inTmp.service!.unit!.path, '9.9.9')).toMatch(/^PrivateTmp=no$/m);
  });

  it('opens the network for --forward (to any address: a collector may be a cluster of names)', async () => {
    const mail = { rotateSize: '8M', rotateActions: 'encrypted-email', mailTo: ['ops@example.org'], mailFrom: 'pp@example.org', mailTransport: 'smtp://127.0.0.1:25' };
    const r = await resolveEncrypterOptions(raw({ ...mail, forward: ['nats://logs.example.org:4222/logs'] }), ctx());
    const unit = renderUnit(r.service!.model, r.service!.unit!.path, '9.9.9');
    expect(unit).not.toMatch(/^PrivateNetwork=yes$/m);
    expect(unit).not.toMatch(/^IPAddressDeny=/m);
    expect(unit).toMatch(/^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m);
    expect(unit).toMatch(/^# --forward ships encrypted blocks/m);
  });

  it('renders no value the checks did not pass: the template helpers refuse rather than escape', async () => {
    const r = await resolveEncrypterOptions(raw({ initScript: join(tmp.path, 'pp-www') }), ctx());
    const model = r.service!.model;
    for (const bad of ['/run/a b.pipe', "/run/it's.pipe", '/run/$HOME.pipe', '/run/%n.pipe', '/run/a\nb']) {
      expect(() => renderUnit({ ...model, pipePath: bad }, r.service!.unit!.path, '9.9.9'), bad).toThrow(/cannot be written safely/);
      expect(() => renderInitScript({ ...model, pipePath: bad }, r.service!.initScript!.path, '9.9.9', '/usr/bin/node'), bad).toThrow(/cannot be written safely/);
    }
  });

  it('refuses an existing unit without --force, before anything is written', async () => {
    const existing = join(tmp.path, 'exists.service');
    writeFileSync(existing, '');
    const err = await errorOf({ systemdUnit: existing, help: false });
    expect(err.code).toBe('SERVICE_FILE_EXISTS');
    expect(err.exitCode).toBe(3);
  });
});
