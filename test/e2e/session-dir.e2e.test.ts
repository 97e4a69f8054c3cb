import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, has, tempDir } from '../helpers/cli.ts';
import { E2eFixture, QUIT, waitFor } from '../helpers/e2e.ts';

const fx = new E2eFixture();
// Users must reach the session directory: it lives under a directory others may traverse.
const shared = tempDir('pp-sessions-');
beforeAll(async () => {
  await fx.setup();
  chmodSync(shared.path, 0o755);
});
afterAll(() => {
  fx.dispose();
  shared.dispose();
});

const isRoot = process.getuid?.() === 0;
const missing = !isRoot ? 'root (to run sessions as other users)' : !has('script', ['--version']) ? 'script (util-linux)' : !has('setpriv', ['--version']) ? 'setpriv (util-linux)' : null;
if (missing !== null) process.stdout.write(`session-dir tests skipped: they need ${missing}\n`);

const NOBODY = 65534;
const OTHER = 65533;

/** A shell command run as `uid` (no groups), as a user logging in would. */
function asUser(uid: number, command: string, timeout = 20_000) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'sh', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** What the profile snippet does, with a name that claims `claimed` and a session that runs `inner`. */
function session(dir: string, claimed: string, inner: string): string {
  const fifo = `${dir}/${claimed}.pts_9.${'ab'.repeat(16)}${claimed.length}`;
  return `(umask 027 && mkfifo '${fifo}') || exit 3
i=0; while [ ! -p '${fifo}.taken' ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -p '${fifo}.taken' ] || exit 4
exec script -qfc "sh -c '${inner}'" '${fifo}.taken'`;
}

describe.skipIf(missing !== null)('--session-dir', () => {
  it('a real script session comes back as its own source, with the uid from the pipe, not its name; others cannot touch it', async () => {
    const dir = join(shared.path, 'sessions');
    const profile = join(fx.tmp.path, 'paranoid-pipes-sessions.sh');
    const paths = await fx.generate(['--session-dir', dir, '--session-profile', profile, '--quit-string', QUIT]);
    // The snippet is valid sh, and only root may change it.
    expect(spawnSync('sh', ['-n', profile]).status).toBe(0);
    expect(statSync(profile).mode & 0o777).toBe(0o644);
    expect(readFileSync(profile, 'utf8')).toContain(`${dir}/`);
    const copy = await fx.startReading(paths);
    await waitFor(() => (existsSync(dir) ? (statSync(dir).mode & 0o7777).toString(8) : ''), /^3733$/, 10_000);

    // nobody's session, under a name that claims to be root's; it sleeps so others can try meanwhile.
    const nobody = asUser(NOBODY, session(dir, 'root', 'echo hello-from-a-session; sleep 2; id -u; printf prompt-without-newline'));
    await sleep(1200);
    // Another user can neither list the directory nor open the session's pipe by its name.
    const peek = await asUser(OTHER, `ls '${dir}' 2>&1 && echo LISTED; cat '${dir}/root.pts_9.${'ab'.repeat(16)}4.taken' 2>&1 && echo READ; true`);
    expect(peek.out).not.toMatch(/LISTED|READ/);
    expect(peek.out).toMatch(/Permission denied/);
    // A pipe others could write is refused (and removed). (umask, not mkfifo -m: the copy may take it before -m sets the mode.)
    await asUser(OTHER, `umask 0 && mkfifo '${dir}/x.pts_1.${'cd'.repeat(16)}'`);
    // So are a symlink and a plain file.
    await asUser(OTHER, `ln -s /etc/passwd '${dir}/y.pts_1.${'cd'.repeat(16)}'; echo plain > '${dir}/z.pts_1.${'cd'.repeat(16)}'`);
    // Another user's own session, under a name claiming to be nobody's: logged as its real uid.
    // Its session also prints the copy's quit string: only the pipe is a control channel.
    const other = await asUser(OTHER, session(dir, 'nobody', `echo second-session; echo ${QUIT}`));
    expect(other.code).toBe(0);
    const first = await nobody;
    expect(first.code).toBe(0);
    await sleep(600);
    expect(copy.child.exitCode).toBeNull();
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output], ['--json']);
    expect(r.code).toBe(0);
    const objects = r.stdout
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { kind: string; source?: string; line?: string; record?: Record<string, unknown> });
    const starts = objects.filter((o) => o.record?.type === 'source-start').map((o) => o.record as Record<string, unknown>);
    expect(starts).toHaveLength(2);
    const mine = starts.find((s) => s.uid === NOBODY);
    const theirs = starts.find((s) => s.uid === OTHER);
    expect(mine).toMatchObject({ kind: 'session', user: 'nobody', tty: 'pts/9' });
    expect(theirs).toMatchObject({ kind: 'session', uid: OTHER });
    const linesOf = (id: unknown) =>
      objects
        .filter((o) => o.kind === 'line' && o.source === id)
        .map((o) => o.line)
        .join('\n');
    expect(linesOf(mine?.source)).toContain('hello-from-a-session');
    expect(linesOf(mine?.source)).toContain(String(NOBODY));
    expect(linesOf(mine?.source)).toContain('prompt-without-newline');
    expect(linesOf(mine?.source)).not.toContain('second-session');
    expect(linesOf(theirs?.source)).toContain('second-session');
    expect(linesOf(theirs?.source)).toContain(QUIT);
    const ends = objects.filter((o) => o.record?.type === 'source-end').map((o) => o.record as Record<string, unknown>);
    expect(ends.map((e) => e.reason)).toEqual(['session ended', 'session ended']);
    const refused = objects.filter((o) => o.record?.event === 'session-refused').map((o) => String(o.record?.detail));
    expect(refused.join('\n')).toMatch(/mode 666/);
    expect(refused.join('\n')).toMatch(/y\.pts_1\.\w+: cannot open \(ELOOP\)/);
    expect(refused.join('\n')).toMatch(/z\.pts_1\.\w+: not a FIFO/);
    // decrypt --source by the session pipe's path shows that session alone.
    const one = await fx.decrypt([paths.output], ['--source', String(mine?.path)]);
    expect(one.stdout.toString()).toContain('hello-from-a-session');
    expect(one.stdout.toString()).not.toContain('second-session');
    // Every seal verifies, the session ids under them.
    const v = await cli(['verify', '--key', fx.keyFiles.sec, paths.output]);
    expect(v.code).toBe(0);
    // Nothing is left in the directory.
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  }, 60_000);

  it('a copy stopped under a busy session stops at once and closes the session with its source-end', async () => {
    const dir = join(shared.path, 'busy');
    const paths = await fx.generate(['--session-dir', dir]);
    const copy = await fx.startReading(paths);
    await waitFor(() => (existsSync(dir) ? 'there' : ''), /there/, 10_000);
    // Ended by the spawn timeout: script ignores failed writes to its output, so the session
    // itself would go on (unlogged) after the copy stopped.
    const busy = asUser(NOBODY, session(dir, 'nobody', 'yes busy-line'), 6000);
    await sleep(1500);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    await busy;
    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.stdout.toString()).toContain('busy-line');
    expect(r.stderr).toMatch(/"type":"source-end".*"reason":"copy stopped: signal SIGTERM"/);
  }, 60_000);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
