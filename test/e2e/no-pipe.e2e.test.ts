import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, has, run, tempDir } from '../helpers/cli.ts';
import { holdsOpen } from '../../generator/start.ts';
import { E2eFixture, removeInitScriptLeftovers, waitFor } from '../helpers/e2e.ts';

/**
 * A copy generated without --pipe, for watched files or sessions only: it makes no FIFO
 * anywhere, reads its sources, and stops cleanly on SIGTERM with a stream-end; --start, the
 * systemd unit and the init script know what "started" means for it.
 */
const fx = new E2eFixture();
const shared = tempDir('pp-nopipe-');
const NAME = `pp-test-nopipe-${process.pid}`;
const PIDFILE = `/run/${NAME}.pid`;
const DIAGNOSTICS = `/var/log/${NAME}.diagnostics.log`;
beforeAll(async () => {
  await fx.setup();
  chmodSync(shared.path, 0o755);
});
afterAll(() => {
  if (process.getuid?.() === 0) removeInitScriptLeftovers(PIDFILE, DIAGNOSTICS);
  fx.dispose();
  shared.dispose();
});

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every FIFO under `dir`, at any depth. */
function fifosUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFIFO()) found.push(path);
    else if (entry.isDirectory()) found.push(...fifosUnder(path));
  }
  return found;
}

async function generate(name: string, extra: readonly string[]) {
  const paths = { output: join(fx.tmp.path, `${name}.log`), copy: join(fx.tmp.path, `${name}.mjs`) };
  const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--output', paths.output, '--save-path', paths.copy, ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { ...paths, stdout: r.stdout.toString() };
}

async function controlsOf(output: string) {
  const d = await fx.decrypt([output], ['--json']);
  expect(d.code).toBe(0);
  const objects = d.stdout.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    lines: objects.filter((o) => o.kind === 'line').map((o) => String(o.line)),
    controls: objects.filter((o) => o.kind === 'control').map((o) => o.record as Record<string, unknown>),
  };
}

describe('a copy without a pipe', () => {
  it('--watch-file alone: lines written to the file come back, no FIFO anywhere, SIGTERM ends the stream cleanly', async () => {
    const file = join(fx.tmp.path, 'app.log');
    writeFileSync(file, '');
    const { output, copy: copyPath } = await generate('files', ['--watch-file', file]);
    const help = await run(copyPath, ['--help']);
    expect(help.stdout.toString()).toMatch(/^pipe: +none: reads only its watched files and sessions$/m);
    expect(help.stdout.toString()).toMatch(/Stop it with SIGTERM or SIGINT \(it has no pipe, so no quit string\)/);

    const copy = fx.start({ dir: fx.tmp.path, pipe: '', output, copy: copyPath });
    await waitFor(copy.stderr, / STARTED: .*no pipe/, 10_000);
    const lines = Array.from({ length: 500 }, (_, i) => `file line ${i}`);
    for (let i = 0; i < lines.length; i += 50) appendFileSync(file, lines.slice(i, i + 50).map((l) => `${l}\n`).join(''));
    await sleep(800);
    expect(fifosUnder(fx.tmp.path)).toEqual([]);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const { lines: back, controls } = await controlsOf(output);
    expect(back).toEqual(lines);
    expect(controls.find((c) => c.type === 'stream-end')).toMatchObject({ reason: 'signal SIGTERM', lines: 500 });
    expect(controls.find((c) => c.type === 'source-start')).toMatchObject({ source: 'f1', kind: 'file', path: file });
    expect(fifosUnder(fx.tmp.path)).toEqual([]);
  });

  it('--start waits for the copy to hold its log open; --save-config writes no pipe keys and --config reads it back', async () => {
    const file = join(fx.tmp.path, 'for-start.txt');
    writeFileSync(file, '');
    const config = join(fx.tmp.path, 'files.json');
    const dry = await generate('cfg', ['--watch-file', file, '--save-config', config, '--help']);
    expect(dry.stdout).toMatch(/^pipe: +none/m);
    const saved = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(saved).filter((k) => k.startsWith('pipe') || k === 'quit-string')).toEqual([]);
    const again = await cli(['encrypter', '--config', config, '--help']);
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toMatch(/^pipe: +none/m);

    const { output, stdout } = await generate('started', ['--watch-file', file, '--start']);
    const pid = Number(/started: pid (\d+), appending to .* \(no pipe\)/.exec(stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      // --start returns once the log is open; the copy opens the watched file just after. With
      // --watch-from end (the default), a line appended before that is what the file held before
      // the copy existed, and is skipped: wait until the copy holds the file too.
      await waitFor(() => String(holdsOpen(pid, file)), /^true$/, 5000);
      appendFileSync(file, 'one line after --start\n');
      await sleep(800);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(50);
    const { lines, controls } = await controlsOf(output);
    expect(lines).toEqual(['one line after --start']);
    expect(controls.at(-1)).toMatchObject({ type: 'stream-end', reason: 'signal SIGTERM' });
  });

  it('without --pipe, --watch-file or --session-dir: a usage error naming the three', async () => {
    const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--output', join(fx.tmp.path, 'x.log'), '--save-path', join(fx.tmp.path, 'x.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr.toString()).toMatch(/give --pipe PATH .*--watch-file PATH or --session-dir DIR/);
    const quit = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--output', join(fx.tmp.path, 'x.log'), '--save-path', join(fx.tmp.path, 'x.mjs'), '--watch-file', '/var/log/x.log', '--quit-string', 'a-long-secret']);
    expect(quit.code).toBe(2);
    expect(quit.stderr.toString()).toMatch(/--quit-string needs --pipe/);
  });

  const sessions = !isRoot ? 'root' : !has('script', ['--version']) ? 'script (util-linux)' : !has('setpriv', ['--version']) ? 'setpriv (util-linux)' : null;
  it.skipIf(sessions !== null)('--session-dir alone: a real session comes back; no FIFO but the session\'s own, removed at its end', async () => {
    const dir = join(shared.path, 'sessions');
    const { output, copy: copyPath } = await generate('sessions', ['--session-dir', dir]);
    const copy = fx.start({ dir: fx.tmp.path, pipe: '', output, copy: copyPath });
    await waitFor(copy.stderr, / STARTED: /, 10_000);
    const fifo = `${dir}/nobody.pts_9.${'cd'.repeat(16)}`;
    const command = `(umask 027 && mkfifo '${fifo}') || exit 3
i=0; while [ ! -p '${fifo}.taken' ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -p '${fifo}.taken' ] || exit 4
exec script -qfc "echo hello-from-a-session" '${fifo}.taken'`;
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sh', '-c', command], { stdio: 'ignore', timeout: 20_000 });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    await waitFor(() => (fifosUnder(shared.path).length === 0 ? 'gone' : ''), /gone/, 10_000);
    expect(fifosUnder(fx.tmp.path)).toEqual([]);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { lines, controls } = await controlsOf(output);
    expect(lines.join('\n')).toContain('hello-from-a-session');
    expect(controls.find((c) => c.type === 'source-start')).toMatchObject({ kind: 'session', uid: 65534 });
    expect(controls.at(-1)).toMatchObject({ type: 'stream-end', reason: 'signal SIGTERM' });
  });
});

const analyze = has('systemd-analyze', ['--version']);
const unitReason = !isRoot ? 'needs root' : !analyze ? 'needs systemd-analyze (apt-get install systemd)' : !has('getent', ['passwd', 'daemon']) ? 'needs the user daemon' : null;
const ssd = has('start-stop-daemon', ['--version']);
const initReason = !isRoot ? 'needs root' : !ssd ? "needs Debian's start-stop-daemon (dpkg)" : !has('getent', ['passwd', 'daemon']) ? 'needs the user daemon' : null;
if (unitReason !== null) console.log(`no-pipe systemd unit test skipped: ${unitReason}`);
if (initReason !== null) console.log(`no-pipe init script test skipped: ${initReason}`);

/** bin (root's), log (daemon's) and a readable file to watch, under a tree the run-as user can enter. */
function tree(name: string) {
  const base = join(fx.tmp.path, name);
  const t = { base, bin: join(base, 'bin'), log: join(base, 'log'), app: join(base, 'app') };
  mkdirSync(t.bin, { recursive: true, mode: 0o755 });
  mkdirSync(t.app, { mode: 0o755 });
  mkdirSync(t.log, { mode: 0o750 });
  chownSync(t.log, Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'daemon'], { encoding: 'utf8' })));
  chmodSync(base, 0o755);
  chmodSync(fx.tmp.path, 0o711);
  return t;
}

describe('service files of a copy without a pipe', () => {
  it.skipIf(unitReason !== null)('the systemd unit waits for no pipe and passes systemd-analyze verify', async () => {
    const t = tree('unit');
    const unitFile = join(t.bin, 'pp-app.service');
    const gen = await cli([
      'encrypter', '--recipient-key', fx.keyFiles.pub,
      '--watch-file', join(t.app, 'app.log'),
      '--output', join(t.log, 'app.log.asc'),
      '--save-path', join(t.bin, 'app.mjs'), '--save-owner', 'root:daemon', '--save-mode', '550',
      '--run-as', 'daemon', '--systemd-unit', unitFile, '--service-before', 'app.service',
    ]);
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).not.toMatch(/ExecStartPost|wait-for-pipe/);
    expect(unit).toMatch(/^Description=paranoid-pipes encrypter into .*app\.log\.asc/m);
    expect(unit).toMatch(/^Before=app\.service$/m);
    const verify = await run('systemd-analyze', ['verify', unitFile]);
    expect(verify.stderr.toString()).toBe('');
    expect(verify.code).toBe(0);
  });

  it.skipIf(initReason !== null)('the init script starts it (once it holds its log open), and stops it; the file\'s lines decrypt', async () => {
    const t = tree('init');
    const file = join(t.app, 'app.log');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const output = join(t.log, 'app.log.asc');
    const script = join(t.bin, NAME);
    const gen = await cli([
      'encrypter', '--recipient-key', fx.keyFiles.pub,
      '--watch-file', file, '--output', output,
      '--save-path', join(t.bin, 'app.mjs'), '--save-owner', 'root:root', '--save-mode', '100',
      '--run-as', 'daemon', '--init-script', script,
    ]);
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    expect(has('sh', ['-n', script])).toBe(true);
    const started = await run(script, ['start']);
    expect(started.stderr.toString()).toBe('');
    expect(started.stdout.toString()).toMatch(/started, appending to .*app\.log\.asc \(no pipe/);
    expect(started.code).toBe(0);
    expect((await run(script, ['status'])).code).toBe(0);
    await sleep(300);
    appendFileSync(file, 'served by the init script\n');
    await sleep(800);
    const stopped = await run(script, ['stop']);
    expect(stopped.stderr.toString()).toBe('');
    expect(stopped.code).toBe(0);
    expect((await run(script, ['status'])).code).toBe(3);
    expect(fifosUnder(t.base)).toEqual([]);
    const { lines, controls } = await controlsOf(output);
    expect(lines).toEqual(['served by the init script']);
    expect(controls.at(-1)).toMatchObject({ type: 'stream-end', reason: 'signal SIGTERM' });
    expect(lstatSync(DIAGNOSTICS).isFile()).toBe(true);
  });
});
