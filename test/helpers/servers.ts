import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound, then released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The status of one GET on 127.0.0.1, on a fresh connection (no keep-alive: a web server's
 * graceful restart must not find the request in an old worker).
 */
export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false, headers: { 'user-agent': 'pp-e2e' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after `ms`. */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const SSHD = '/usr/sbin/sshd';
export const NATS_SERVER = '/usr/sbin/nats-server';

/** Why a real-server test cannot run here, or null. */
export function missingForSshd(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (sshd with its own config)';
  if (!existsSync(SSHD) || !existsSync('/usr/bin/ssh') || !existsSync('/usr/bin/ssh-keygen')) return 'needs openssh-server and openssh-client';
  return null;
}

export function missingForNats(): string | null {
  return existsSync(NATS_SERVER) ? null : 'needs nats-server';
}

/**
 * An OpenSSH server on a loopback port with its own config, host key and one authorized user
 * key whose line forces `command`. It runs as root. StrictModes refuses an authorized_keys file
 * below a world-writable directory such as /tmp, so its files live in a private dir under /run.
 */
export class TestSshd {
  child: ChildProcess | null = null;
  private output = '';
  readonly identity: string;
  readonly knownHosts: string;
  private readonly config: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.identity = join(dir, 'user_key');
    this.knownHosts = join(dir, 'known_hosts');
    this.config = join(dir, 'sshd_config');
  }

  static async create(forcedCommand: string): Promise<TestSshd> {
    const dir = mkdtempSync('/run/pp-test-sshd-');
    const port = await freePort();
    const s = new TestSshd(dir, port);
    // sshd insists on its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', s.identity]);
    const userPub = readFileSync(`${s.identity}.pub`, 'utf8').trim();
    writeFileSync(join(dir, 'authorized_keys'), `command="${forcedCommand}",restrict,from="127.0.0.1" ${userPub}\n`, { mode: 0o600 });
    writeFileSync(s.knownHosts, `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8').trim()}\n`, { mode: 0o600 });
    writeFileSync(
      s.config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'StrictModes yes',
        'LogLevel ERROR',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    this.child = spawn(SSHD, ['-D', '-e', '-f', this.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr?.setEncoding('utf8').on('data', (t: string) => (this.output = (this.output + t).slice(-4000)));
    await waitForPort(this.port);
  }

  /** Stops the listener (sessions already open go on until their client or server side drops). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  said(): string {
    return this.output;
  }

  /** Stops it and removes its dir. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `nats-server -js` on a loopback port with a temp store dir; stop and start it again at will. */
export class TestNats {
  child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /**
   * With `auth`, clients must log in with that user and password. `extra` is more server
   * configuration (a tls block, an nkey authorization).
   */
  static async create(dir: string, auth?: { user: string; password: string }, extra = ''): Promise<TestNats> {
    mkdirSync(dir, { mode: 0o700 });
    const s = new TestNats(dir, await freePort());
    writeFileSync(
      join(dir, 'nats.conf'),
      // Blocks of up to 1 MiB of log data, armored: raise the 1 MB default payload limit.
      `listen: "127.0.0.1:${s.port}"\nmax_payload: 4MB\njetstream { store_dir: "${join(dir, 'store')}" }\n` +
        (auth === undefined ? '' : `authorization { user: "${auth.user}", password: "${auth.password}" }\n`) +
        extra,
    );
    await s.start();
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(NATS_SERVER, ['-js', '-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr?.setEncoding('utf8').on('data', (t: string) => (this.output = (this.output + t).slice(-4000)));
    await waitForPort(this.port);
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
  }

  said(): string {
    return this.output;
  }
}

/** Direct children of a process (Linux /proc), e.g. the ssh client a copy runs. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
