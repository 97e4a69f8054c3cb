import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { ROOT } from '../helpers/cli.ts';
import { E2eFixture } from '../helpers/e2e.ts';

/** examples/nginx/www.conf, with its production paths and port moved into the test's temp dir. */
function exampleServerBlock(pipe: string, port: number): string {
  const text = readFileSync(join(ROOT, 'examples', 'nginx', 'www.conf'), 'utf8');
  expect(text).toContain('/run/paranoid-pipes/www.pipe');
  return text.replace('/run/paranoid-pipes/www.pipe', pipe).replace('127.0.0.1:8080', `127.0.0.1:${port}`);
}

function nginxBinary(): string | null {
  for (const path of ['/usr/sbin/nginx', '/usr/bin/nginx']) {
    try {
      execFileSync(path, ['-v'], { stdio: 'ignore' });
      return path;
    } catch {
      // not there
    }
  }
  return null;
}

const nginx = nginxBinary();
const isRoot = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function request(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers: { 'user-agent': 'pp-e2e' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

async function waitForPort(port: number, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (server.exitCode !== null) throw new Error(`nginx exited with ${server.exitCode}`);
    try {
      await request(port, '/ready-probe');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error('nginx did not start listening');
}

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

describe.skipIf(nginx === null || !isRoot)('real nginx writing its access log into the copy (examples/nginx)', () => {
  it('every request is in the encrypted log exactly once, and nowhere in the clear', async () => {
    const paths = await fx.generate(['--header', '# www.example.org access log'], 'www');
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);

    const prefix = join(fx.tmp.path, 'nginx');
    mkdirSync(prefix);
    const port = await freePort();
    const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(prefix, t)};`).join('\n');
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;\nmaster_process on;\nworker_processes 2;\nuser root;\npid ${join(prefix, 'nginx.pid')};\nerror_log ${join(prefix, 'error.log')};\n` +
        `events { worker_connections 64; }\nhttp {\n${temps}\n    access_log off;\n${exampleServerBlock(paths.pipe, port)}\n}\n`,
    );
    const server = spawn(nginx!, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: 'ignore' });
    const serverExit = new Promise((r) => server.on('exit', r));
    try {
      await waitForPort(port, server);
      const secrets = Array.from({ length: 60 }, (_, i) => `/patient/${1000 + i}?token=secret-${i}-${Math.random().toString(36).slice(2)}`);
      // Concurrent requests: two nginx workers write into the pipe at once.
      const statuses = await Promise.all(secrets.map((path) => request(port, path)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      server.kill('SIGQUIT'); // graceful: workers finish and close their log descriptors
      await serverExit;

      copy.child.kill('SIGTERM');
      expect(await copy.exited).toBe(0);
      const r = await fx.decrypt([paths.output]);
      expect(r.code).toBe(0);
      const lines = r.stdout.toString().split('\n');
      expect(lines[0]).toBe('# www.example.org access log');
      for (const path of secrets) {
        const hits = lines.filter((l) => l.includes(`"GET ${path} HTTP/1.1" 200 `) && l.endsWith('"pp-e2e"'));
        expect(hits, path).toHaveLength(1);
      }
      const raw = readFileSync(paths.output, 'utf8');
      expect(raw).not.toMatch(/patient|secret-|pp-e2e/);
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe.skipIf(nginx !== null && isRoot)('nginx example', () => {
  it('needs nginx and root: skipped', () => {
    console.log(`skipped: ${nginx === null ? 'nginx is not installed (.ci/run installs it)' : 'nginx runs its master as root here'}`);
  });
});
