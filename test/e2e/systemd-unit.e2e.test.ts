import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, has, run, WRITER } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range } from '../helpers/e2e.ts';

/**
 * The generated unit, checked without systemd as PID 1: `systemd-analyze verify` on every
 * variant, `systemd-analyze security --offline=true` for the exposure figure, and the unit's
 * ExecStart run as its User=/Group=/SupplementaryGroups= (setpriv) with its directories
 * prepared as systemd would, fed by a writer in the service's group.
 */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const isRoot = process.getuid?.() === 0;
const analyze = has('systemd-analyze', ['--version']);
const setpriv = has('setpriv', ['--version']);
const accounts = has('getent', ['passwd', 'daemon']) && has('getent', ['passwd', 'www-data']);
const reason = !isRoot ? 'needs root' : !analyze ? 'needs systemd-analyze (apt-get install systemd)' : !setpriv ? 'needs setpriv (util-linux)' : !accounts ? 'needs the users daemon and www-data' : null;
if (reason !== null) console.log(`systemd-unit tests skipped: ${reason}`);

/** The service's user: an ordinary system account, not root and not nobody (which systemd flags). */
const RUN_AS = 'daemon';
const MAIL = ['--rotate-size', '1M', '--rotate-actions', 'encrypted-email', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org'];
const VARIANTS: Record<string, readonly string[]> = {
  'run-as': [],
  'run-as, no writer unit': ['--no-before'],
  root: ['--unit-start-as', 'root', '--save-owner', 'root:root', '--save-mode', '100'],
  'smtp to an address': [...MAIL, '--mail-transport', 'smtp://127.0.0.1:25'],
  'smtp to a host name': [...MAIL, '--mail-transport', 'smtp://mail.example.org:25'],
  sendmail: MAIL,
  'filters, monitor, mailed report': ['--ignore', 'health', '--monitor', '/etc/passwd', '--report-every', '1d', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', 'smtp://127.0.0.1:25'],
};

/** The variant's options; the root shape brings its own --save-owner/--save-mode. */
function serviceArgs(extra: readonly string[]): string[] {
  const before = extra.includes('--no-before') ? [] : ['--service-before', 'nginx.service'];
  return [...before, ...extra.filter((a) => a !== '--no-before')];
}

/** Root owns the copy, the run-as group reads and runs it: the run-as shape's pair. */
function saveArgs(extra: readonly string[]): string[] {
  return extra.includes('--save-owner') ? [] : ['--save-owner', `root:${RUN_AS}`, '--save-mode', '550'];
}

/** A save/run/log tree as systemd would prepare it: the copy root's, the pipe and log dirs the user's. */
function serviceTree(name: string): { bin: string; run: string; log: string } {
  const base = join(fx.tmp.path, name);
  const tree = { bin: join(base, 'bin'), run: join(base, 'run'), log: join(base, 'log') };
  mkdirSync(tree.bin, { recursive: true, mode: 0o755 });
  chmodSync(base, 0o755);
  const user = Number(execFileSync('id', ['-u', RUN_AS], { encoding: 'utf8' }).trim());
  const group = Number(execFileSync('id', ['-g', RUN_AS], { encoding: 'utf8' }).trim());
  for (const [dir, mode] of [[tree.run, 0o755], [tree.log, 0o750]] as const) {
    mkdirSync(dir, { mode });
    chownSync(dir, user, group);
  }
  return tree;
}

function generateArgs(tree: { bin: string; run: string; log: string }, extra: readonly string[]): string[] {
  return [
    'encrypter', '--recipient-key', fx.keyFiles.pub,
    '--pipe', join(tree.run, 'www.pipe'), '--pipe-owner', `${RUN_AS}:www-data`, '--pipe-mode', '620',
    '--output', join(tree.log, 'www.log.asc'),
    '--save-path', join(tree.bin, 'www.mjs'), ...saveArgs(extra),
    '--run-as', RUN_AS, '--quit-string', QUIT,
    '--systemd-unit', join(tree.bin, 'pp-www.service'),
    ...serviceArgs(extra),
  ];
}

function unitValue(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  if (m === null) throw new Error(`no ${key}= in the unit:\n${unit}`);
  return m[1] as string;
}

function exposure(unitFile: string): number {
  const r = execFileSync('systemd-analyze', ['security', '--offline=true', unitFile], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: ([0-9.]+)/.exec(r);
  if (m === null) throw new Error(`no exposure figure in:\n${r}`);
  return Number(m[1]);
}

describe.skipIf(reason !== null)('systemd unit', () => {
  it('systemd-analyze verify accepts every variant, generated for real', async () => {
    for (const [name, extra] of Object.entries(VARIANTS)) {
      const tree = serviceTree(`verify-${name.replace(/\W+/g, '-')}`);
      const r = await cli(generateArgs(tree, extra));
      expect(r.stderr, name).toBe('');
      expect(r.code, name).toBe(0);
      const unitFile = join(tree.bin, 'pp-www.service');
      expect(statSync(unitFile).mode & 0o7777).toBe(0o644);
      const verify = await run('systemd-analyze', ['verify', unitFile]);
      expect(verify.stderr, name).toBe('');
      expect(verify.code, name).toBe(0);
    }
  });

  it('exposure of the README unit (production paths, dry run) is at most 1.0; the other variants are measured', async () => {
    const figures: Record<string, number> = {};
    for (const [name, extra] of Object.entries(VARIANTS)) {
      const args = [
        'encrypter', '--recipient-key', fx.keyFiles.pub,
        '--pipe', '/run/paranoid-pipes/www.pipe', '--pipe-owner', `${RUN_AS}:www-data`, '--pipe-mode', '620',
        '--output', '/var/log/paranoid-pipes/www.log.asc',
        '--save-path', '/usr/local/lib/paranoid-pipes-www.mjs',
        ...saveArgs(extra),
        '--run-as', RUN_AS, '--quit-string', QUIT,
        '--systemd-unit', join(fx.tmp.path, 'dry.service'),
        ...serviceArgs(extra), '--help',
      ];
      const r = await cli(args);
      expect(r.stderr, name).toBe('');
      const text = r.stdout.toString();
      const unit = text.slice(text.indexOf('would hold:\n') + 'would hold:\n'.length);
      const file = join(fx.tmp.path, `exposure-${Object.keys(figures).length}.service`);
      writeFileSync(file, unit);
      figures[name] = exposure(file);
    }
    console.log(`systemd-analyze security --offline=true, overall exposure: ${JSON.stringify(figures)}`);
    expect(figures['run-as']).toBeLessThanOrEqual(1.0);
    expect(figures['run-as, no writer unit']).toBeLessThanOrEqual(1.0);
    // Each relaxation costs something, and the run-as shape stays the best.
    for (const name of ['root', 'smtp to an address', 'sendmail']) expect(figures[name]).toBeGreaterThan(figures['run-as'] as number);
  });

  it("the unit's ExecStart, run as its User=/Group=/SupplementaryGroups=, encrypts lines from a writer in the service's group", async () => {
    const tree = serviceTree('run');
    const gen = await cli(generateArgs(tree, []));
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    chmodSync(fx.tmp.path, 0o711); // the user must reach its tree, as under /run and /var/log
    const unit = readFileSync(join(tree.bin, 'pp-www.service'), 'utf8');
    const user = unitValue(unit, 'User');
    const group = unitValue(unit, 'Group');
    const groups = [group, ...unitValue(unit, 'SupplementaryGroups').split(' ')];
    expect(groups).toContain('www-data');
    const execStart = unitValue(unit, 'ExecStart');
    const pipe = join(tree.run, 'www.pipe');
    const copy = spawn('setpriv', ['--reuid', user, '--regid', group, '--groups', groups.join(','), '--', execStart], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    copy.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<number | null>((resolve) => copy.on('exit', (code) => resolve(code)));
    try {
      await waitForReader(pipe, 10_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the copy said:\n${stderr}`);
      });
      const st = statSync(pipe);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([Number(execFileSync('id', ['-u', RUN_AS], { encoding: 'utf8' })), 33, 0o620]);
      // A writer in the service's group (www-data), as nginx's workers are. Its script is copied
      // where www-data can read it: the checkout may sit in a directory closed to other users.
      const writerScript = join(fx.tmp.path, 'writer.mjs');
      copyFileSync(WRITER, writerScript);
      chmodSync(writerScript, 0o644);
      const writer = await run('setpriv', ['--reuid', 'www-data', '--regid', 'www-data', '--clear-groups', '--', process.execPath, writerScript, pipe, 'www', '300']);
      expect(writer.stderr).toBe('');
      expect(writer.stdout.toString().trim()).toBe('300');
      // Anyone else is kept out by the pipe's mode.
      const outsider = await run('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', '--', process.execPath, writerScript, pipe, 'nobody', '1']);
      expect(outsider.code).not.toBe(0);
      expect(outsider.stderr).toMatch(/EACCES/);
      const quitter = await run('setpriv', ['--reuid', 'www-data', '--regid', 'www-data', '--clear-groups', '--', '/bin/sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', QUIT, pipe]);
      expect(quitter.code).toBe(0);
      expect(await exited).toBe(0);
    } finally {
      if (copy.exitCode === null) copy.kill('SIGKILL');
    }
    expect(stderr).not.toMatch(/PRIVILEGES_DROPPED/); // it never was root: nothing to drop
    const output = join(tree.log, 'www.log.asc');
    expect(statSync(output).uid).toBe(Number(execFileSync('id', ['-u', RUN_AS], { encoding: 'utf8' })));
    const d = await fx.decrypt([output]);
    expect(d.code).toBe(0);
    expect(linesByWriter(d.stdout.toString()).get('www')).toEqual(range(300));
  });
});
