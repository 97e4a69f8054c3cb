import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { has, ROOT } from '../helpers/cli.ts';
import { freePort, httpStatus } from '../helpers/servers.ts';
import { E2eFixture, waitFor } from '../helpers/e2e.ts';

/** examples/nginx/www.conf, with its production paths and port moved into the test's temp dir. */
function exampleServerBlock(pipe: string, port: number): string {
  const text = readFileSync(join(ROOT, 'examples', 'nginx', 'www.conf'), 'utf8');
  expect(text).toContain('/run/paranoid-pipes/www.pipe');
  return text.replace('/run/paranoid-pipes/www.pipe', pipe).replace('127.0.0.1:8080', `127.0.0.1:${port}`);
}

const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => has(path, ['-v'])) ?? null;
const isRoot = process.getuid?.() === 0;

function serverHeader(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/ready-probe', headers: { 'user-agent': 'pp-e2e' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers.server ?? '')));
    }).on('error', reject);
  });
}

async function waitForPort(port: number, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (server.exitCode !== null) throw new Error(`nginx exited with ${server.exitCode}`);
    try {
      // Ours, not another test's server that took the port first (nginx then exits: bind failed).
      if ((await serverHeader(port)).startsWith('nginx') && server.exitCode === null) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('nginx did not start listening');
}

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

/** A real nginx (2 workers, running as `user`) with the example's server block on a free port. */
async function startNginx(pipe: string, user: string): Promise<{ port: number; prefix: string; server: ChildProcess; exited: Promise<unknown> }> {
  const prefix = join(fx.tmp.path, `nginx-${user}-${Date.now()}`);
  mkdirSync(prefix);
  const port = await freePort();
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(prefix, t)};`).join('\n');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;\nmaster_process on;\nworker_processes 2;\nuser ${user};\npid ${join(prefix, 'nginx.pid')};\nerror_log ${join(prefix, 'error.log')};\n` +
      `events { worker_connections 512; }\nhttp {\n${temps}\n    access_log off;\n${exampleServerBlock(pipe, port)}\n}\n`,
  );
  // Its own process group, so a failed test can take the workers down with the master.
  const server = spawn(nginx!, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: 'ignore', detached: true });
  const exited = new Promise((r) => server.on('exit', r));
  await waitForPort(port, server).catch(async (err: unknown) => {
    await stopNginx(server, exited);
    throw err;
  });
  return { port, prefix, server, exited };
}

/**
 * After a failed test: SIGTERM (nginx's fast stop takes its workers down), then SIGKILL to the
 * whole group. A SIGKILLed master alone leaves its workers running, holding the port and the pipe.
 */
async function stopNginx(server: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) return;
  server.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** Each path requested once, concurrently (two workers write into the pipe at once); all 200. */
async function requestAll(port: number, paths: readonly string[]): Promise<void> {
  const statuses = await Promise.all(paths.map((path) => httpStatus(port, path)));
  expect(statuses.every((s) => s === 200)).toBe(true);
}

function secretPaths(tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `/patient/${tag}-${1000 + i}?token=secret-${i}-${Math.random().toString(36).slice(2)}`);
}

function expectEachOnce(lines: readonly string[], paths: readonly string[]): void {
  for (const path of paths) {
    const hits = lines.filter((l) => l.includes(`"GET ${path} HTTP/1.1" 200 `) && l.endsWith('"pp-e2e"'));
    expect(hits, path).toHaveLength(1);
  }
}

describe.skipIf(nginx === null || !isRoot)('real nginx writing its access log into the copy (examples/nginx)', () => {
  it('every request is in the encrypted log exactly once, and nowhere in the clear', async () => {
    const paths = await fx.generate(['--header', '# www.example.org access log'], 'www');
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const { port, server, exited } = await startNginx(paths.pipe, 'root');
    try {
      const secrets = secretPaths('a', 60);
      await requestAll(port, secrets);
      server.kill('SIGQUIT'); // graceful: workers finish and close their log descriptors
      await exited;

      copy.child.kill('SIGTERM');
      expect(await copy.exited).toBe(0);
      const r = await fx.decrypt([paths.output]);
      expect(r.code).toBe(0);
      const lines = r.stdout.toString().split('\n');
      expect(lines[0]).toBe('# www.example.org access log');
      expectEachOnce(lines, secrets);
      const raw = readFileSync(paths.output, 'utf8');
      expect(raw).not.toMatch(/patient|secret-|pp-e2e/);
    } finally {
      await stopNginx(server, exited);
    }
  });

  it('nginx\'s log reopen (as logrotate sends it) chowns the pipe to its worker user: the copy puts a fresh pipe back, records it, and loses no request', async () => {
    const paths = await fx.generate(['--pipe-owner', 'root:www-data', '--pipe-mode', '620'], 'reopen');
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const { port, server, exited } = await startNginx(paths.pipe, 'www-data');
    try {
      const before = secretPaths('before', 30);
      await requestAll(port, before);
      const first = lstatSync(paths.pipe);
      expect([first.uid, first.mode & 0o7777]).toEqual([0, 0o620]);

      // What logrotate's postrotate does: the master reopens every log path and, running as root,
      // chowns it to the worker user (www-data could then read the pipe, or open it to all).
      server.kill('SIGUSR1');
      // The path is never empty on the way (nginx would create a plain file there): as root the
      // copy keeps the old pipe by a hard link and renames the fresh one over it in one step.
      let sawMissing = false;
      await waitFor(() => {
        const st = lstatSync(paths.pipe, { throwIfNoEntry: false });
        if (st === undefined) sawMissing = true;
        if (st === undefined) return 'missing';
        return st.ino !== first.ino && st.isFIFO() && st.uid === 0 && (st.mode & 0o7777) === 0o620 ? 'fresh' : 'old';
      }, /fresh/, 10_000);
      expect(sawMissing).toBe(false);
      const middle = secretPaths('middle', 30);
      await requestAll(port, middle); // still into the chowned pipe: the copy reads it on
      server.kill('SIGUSR1'); // the next reopen takes the fresh pipe
      await new Promise((r) => setTimeout(r, 300));
      const after = secretPaths('after', 30);
      await requestAll(port, after);
      server.kill('SIGQUIT');
      await exited;

      copy.child.kill('SIGTERM');
      expect(await copy.exited).toBe(0);
      const r = await fx.decrypt([paths.output], ['--show-control']);
      expect(r.code).toBe(0);
      const lines = r.stdout.toString().split('\n');
      expectEachOnce(lines, [...before, ...middle, ...after]);
      expect(r.stderr.toString()).toMatch(/pipe-replaced.*given owner 33:/);
    } finally {
      await stopNginx(server, exited);
    }
  });
});

describe.skipIf(nginx !== null && isRoot)('nginx example', () => {
  it('needs nginx and root: skipped', () => {
    console.log(`skipped: ${nginx === null ? 'nginx is not installed (.ci/run installs it)' : 'nginx runs its master as root here'}`);
  });
});
