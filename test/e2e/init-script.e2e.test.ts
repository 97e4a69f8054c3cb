import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, has, run, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, removeInitScriptLeftovers } from '../helpers/e2e.ts';

/**
 * The generated SysV/LSB init script, run for real (start-stop-daemon, a pidfile in /run):
 * start, lines, status, reload, more lines, stop, status, and a second start; every line
 * decrypts and each start is its own stream.
 */
const fx = new E2eFixture();
const NAME = `pp-test-init-${process.pid}`;
const PIDFILE = `/run/${NAME}.pid`;
const DIAGNOSTICS = `/var/log/${NAME}.diagnostics.log`;
beforeAll(() => fx.setup());
afterAll(() => {
  removeInitScriptLeftovers(PIDFILE, DIAGNOSTICS);
  fx.dispose();
});

const isRoot = process.getuid?.() === 0;
const ssd = has('start-stop-daemon', ['--version']);
const reason = !isRoot ? 'needs root (start-stop-daemon, a pidfile in /run)' : !ssd ? "needs Debian's start-stop-daemon (dpkg)" : !has('getent', ['passwd', 'daemon']) ? 'needs the user daemon' : null;
if (reason !== null) console.log(`init-script tests skipped: ${reason}`);

describe.skipIf(reason !== null)('init script', () => {
  it('start → lines → status 0 → reload → lines → stop → status 3 → start again; every line decrypts, one stream per start', async () => {
    const base = join(fx.tmp.path, 'srv');
    const bin = join(base, 'bin');
    const log = join(base, 'log');
    mkdirSync(bin, { recursive: true, mode: 0o755 });
    mkdirSync(log, { mode: 0o750 });
    chownSync(log, Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'daemon'], { encoding: 'utf8' })));
    chmodSync(base, 0o755);
    chmodSync(fx.tmp.path, 0o711);
    // Not there yet, as under /run after a reboot: the script makes it.
    const pipe = join(base, 'run', 'www.pipe');
    const output = join(log, 'www.log.asc');
    const script = join(bin, NAME);
    const gen = await cli([
      'encrypter', '--recipient-key', fx.keyFiles.pub,
      '--pipe', pipe, '--pipe-owner', 'daemon:www-data', '--pipe-mode', '620',
      '--output', output,
      '--save-path', join(bin, 'www.mjs'), '--save-owner', 'root:root', '--save-mode', '100',
      '--run-as', 'daemon', '--quit-string', QUIT,
      '--init-script', script, '--service-before', 'nginx.service',
    ]);
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    expect(statSync(script).mode & 0o7777).toBe(0o755);
    const text = readFileSync(script, 'utf8');
    expect(text).toMatch(/^# X-Start-Before: +nginx$/m);
    expect(has('sh', ['-n', script])).toBe(true);

    const action = async (verb: string) => run(script, [verb]);
    expect((await action('status')).code).toBe(3);

    const started = await action('start');
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(statSync(pipe).isFIFO()).toBe(true);
    expect(existsSync(PIDFILE)).toBe(true);
    expect((await action('status')).code).toBe(0);
    expect(await writerProcess(pipe, 'a', 200)).toBe(200);

    const reload = await action('reload');
    expect(reload.code).toBe(0);
    expect(await writerProcess(pipe, 'b', 100)).toBe(100);
    expect((await action('status')).code).toBe(0);

    const stopped = await action('stop');
    expect(stopped.stderr).toBe('');
    expect(stopped.code).toBe(0);
    expect((await action('status')).code).toBe(3);
    expect(existsSync(pipe)).toBe(false); // removed by the copy's clean stop
    expect(existsSync(PIDFILE)).toBe(false);
    // Stopping what is not running is not an error (LSB).
    expect((await action('stop')).code).toBe(0);

    expect((await action('start')).code).toBe(0);
    expect((await action('start')).stdout.toString()).toMatch(/already running/);
    expect(await writerProcess(pipe, 'c', 50)).toBe(50);
    expect((await action('restart')).code).toBe(0);
    expect(await writerProcess(pipe, 'd', 10)).toBe(10);
    expect((await action('stop')).code).toBe(0);

    const d = await fx.decrypt([output], ['--show-control']);
    expect(d.code).toBe(0);
    const lines = linesByWriter(d.stdout.toString());
    expect(lines.get('a')).toEqual(range(200));
    expect(lines.get('b')).toEqual(range(100));
    expect(lines.get('c')).toEqual(range(50));
    expect(lines.get('d')).toEqual(range(10));
    // start, start again, restart: three streams, each started and cleanly ended.
    expect(d.stderr.match(/"type":"stream-start"/g)).toHaveLength(3);
    expect(d.stderr.match(/"type":"stream-end"/g)).toHaveLength(3);
    expect((await action('bogus')).code).toBe(2);
    // The copy's diagnostics, kept: three starts, three clean stops, and no logged data.
    const diagnostics = readFileSync(DIAGNOSTICS, 'utf8');
    expect(diagnostics.match(/ STARTED: /g)).toHaveLength(3);
    expect(diagnostics.match(/ STOPPED: signal SIGTERM/g)).toHaveLength(3);
    expect(diagnostics).not.toMatch(/writer=/);
    expect(statSync(DIAGNOSTICS).mode & 0o777).toBe(0o640);

    // A symlink planted at the diagnostics path: root would append to its target. Refused.
    const target = join(fx.tmp.path, 'not-diagnostics');
    writeFileSync(target, 'untouched\n');
    renameSync(DIAGNOSTICS, `${DIAGNOSTICS}.kept`);
    symlinkSync(target, DIAGNOSTICS);
    try {
      const refused = await action('start');
      expect(refused.code).toBe(1);
      expect(refused.stderr.toString()).toMatch(/refused: .* is a symlink or not a regular file of root's/);
      expect(existsSync(PIDFILE)).toBe(false);
      expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    } finally {
      execFileSync('rm', ['-f', DIAGNOSTICS, `${DIAGNOSTICS}.kept`]);
    }
  });
});
