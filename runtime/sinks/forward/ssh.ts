import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { BakedForward } from '../../baked.ts';
import type { SpoolMessage } from './spool-reader.ts';
import type { Connection, Transport } from './transport.ts';

type SshForward = Extract<BakedForward, { kind: 'ssh' }>;

/**
 * ssh push: the system's OpenSSH client runs `paranoid-pipes receive` on the collector (an
 * `authorized_keys` line forces exactly that command). The copy writes whole messages to its
 * stdin; the receiver answers `ok N` once it has stored the first N messages of this connection.
 * No password is ever asked (BatchMode), the host key must already be known, no user or system
 * ssh config is read (`-F none`): everything that shapes the connection is here.
 */
export const SSH_LIMITS = {
  /** The receiver says hello at once; a collector that does not within this long is down. */
  helloTimeoutMs: 20_000,
  /**
   * A batch (1 MiB) not confirmed within this long: the receiver is treated as hung. A dead link
   * is found sooner by the keepalives; this leaves a slow link (1 MiB at 64 kbit/s) its time.
   */
  ackTimeoutMs: 300_000,
  /** Keepalives notice a dead link while idle: 3 missed answers, 15 s apart. */
  aliveIntervalS: 15,
  aliveCountMax: 3,
} as const;

export const RECEIVE_HELLO = 'paranoid-pipes receive 1';

export function sshArgs(f: SshForward): string[] {
  const options = [
    'BatchMode=yes',
    'StrictHostKeyChecking=yes',
    'IdentitiesOnly=yes',
    'PasswordAuthentication=no',
    'KbdInteractiveAuthentication=no',
    'ForwardAgent=no',
    'ForwardX11=no',
    'ClearAllForwardings=yes',
    'LogLevel=ERROR',
    'ConnectTimeout=15',
    `ServerAliveInterval=${SSH_LIMITS.aliveIntervalS}`,
    `ServerAliveCountMax=${SSH_LIMITS.aliveCountMax}`,
    ...(f.knownHosts === null ? [] : [`UserKnownHostsFile=${f.knownHosts}`, 'GlobalKnownHostsFile=/dev/null']),
  ];
  return [
    '-F', 'none', '-T', '-x',
    ...options.flatMap((o) => ['-o', o]),
    ...(f.identity === null ? [] : ['-i', f.identity]),
    '-p', String(f.port),
    '-l', f.user,
    '--', f.host,
    // Ignored when authorized_keys forces the command; the path is checked at generation to
    // hold no character a remote shell would interpret.
    'paranoid-pipes', 'receive', '--output', f.path,
  ];
}

export function sshTransport(f: SshForward, sshPath = '/usr/bin/ssh'): Transport {
  return {
    label: f.label,
    connect: () => SshConnection.open(sshPath, sshArgs(f)),
  };
}

class SshConnection implements Connection {
  readonly closed: Promise<void>;
  private acked = 0;
  private sent = 0;
  private lineBuf = '';
  private stderrTail = '';
  private exited = false;
  private waiters: Array<{ until: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private helloed!: () => void;
  private readonly hello: Promise<void>;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, Readable>) {
    this.hello = new Promise((resolve) => {
      this.helloed = resolve;
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => this.onOutput(text));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-2000);
    });
    // A write after the child died fails with EPIPE: the exit handler reports it.
    child.stdin.on('error', () => {});
    this.closed = new Promise((resolve, reject) => {
      child.on('close', (code, signal) => {
        this.exited = true;
        const err = new Error(`ssh ended (${signal ?? `exit ${code}`})${this.stderrTail.trim() === '' ? '' : `: ${this.stderrTail.trim().split('\n').slice(-2).join(' / ')}`}`);
        for (const w of this.waiters) w.reject(err);
        this.waiters = [];
        reject(err);
      });
      child.on('error', (err) => {
        this.exited = true;
        reject(err);
      });
    });
    this.closed.catch(() => {});
  }

  static async open(sshPath: string, args: string[]): Promise<SshConnection> {
    const child = spawn(sshPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const conn = new SshConnection(child);
    await withTimeout(Promise.race([conn.hello, conn.closed]), SSH_LIMITS.helloTimeoutMs, 'the receiver did not answer').catch(async (err: unknown) => {
      await conn.close();
      throw err;
    });
    return conn;
  }

  async send(messages: readonly SpoolMessage[]): Promise<void> {
    if (this.exited) throw new Error('ssh is not running');
    const parts: Buffer[] = [];
    for (const m of messages) {
      parts.push(m.bytes);
      if (m.armored) parts.push(NEWLINE);
    }
    this.sent += messages.length;
    const until = this.sent;
    const acked = new Promise<void>((resolve, reject) => {
      if (this.acked >= until) resolve();
      else this.waiters.push({ until, resolve, reject });
    });
    this.child.stdin.write(Buffer.concat(parts));
    await withTimeout(acked, SSH_LIMITS.ackTimeoutMs, `no confirmation from the receiver within ${SSH_LIMITS.ackTimeoutMs / 1000} s`);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    this.child.kill('SIGTERM');
    await this.closed.catch(() => {});
  }

  private onOutput(text: string): void {
    this.lineBuf += text;
    let nl = this.lineBuf.indexOf('\n');
    while (nl >= 0) {
      const line = this.lineBuf.slice(0, nl).trim();
      this.lineBuf = this.lineBuf.slice(nl + 1);
      nl = this.lineBuf.indexOf('\n');
      if (line === RECEIVE_HELLO) {
        this.helloed();
        continue;
      }
      const m = /^ok (\d+)$/.exec(line);
      if (m === null) continue;
      this.acked = Math.max(this.acked, Number(m[1]));
      this.waiters = this.waiters.filter((w) => {
        if (w.until > this.acked) return true;
        w.resolve();
        return false;
      });
    }
  }
}

const NEWLINE = Buffer.from('\n');

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
