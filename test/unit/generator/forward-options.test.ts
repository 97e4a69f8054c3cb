import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveForward, resolveForwards } from '../../../generator/forward-options.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { sshArgs } from '../../../runtime/sinks/forward/ssh.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-fwd-opt-'));
const key = join(dir, 'id_ed25519');
const creds = join(dir, 'www.creds');
writeFileSync(key, 'k');
writeFileSync(creds, 'c');
chmodSync(creds, 0o640);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof PipesError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('--forward URLs', () => {
  it('ssh://user@host:port/path with an identity and known_hosts file', () => {
    const f = resolveForward(`ssh://pplog@logs.example.org:2222/srv/logs/www.log.asc?identity=${key}&known-hosts=id_ed25519`, dir);
    expect(f).toEqual({ kind: 'ssh', label: expect.any(String), user: 'pplog', host: 'logs.example.org', port: 2222, path: '/srv/logs/www.log.asc', identity: key, knownHosts: key });
    const args = sshArgs(f as Extract<typeof f, { kind: 'ssh' }>);
    expect(args).toContain('BatchMode=yes');
    expect(args.slice(args.indexOf('-i'), args.indexOf('-i') + 2)).toEqual(['-i', key]);
    expect(args.slice(-6)).toEqual(['--', 'logs.example.org', 'paranoid-pipes', 'receive', '--output', '/srv/logs/www.log.asc']);
  });

  it('nats:// servers and subject, a creds file; tls://', () => {
    expect(resolveForward(`nats://a.example:4222,b.example/logs.www?creds=${creds}`, dir)).toMatchObject({ kind: 'nats', servers: ['a.example:4222', 'b.example:4222'], tls: false, subject: 'logs.www', credentials: { kind: 'creds', file: creds } });
    expect(resolveForward('tls://127.0.0.1:4443/logs', dir)).toMatchObject({ kind: 'nats', tls: true, ca: null, servers: ['127.0.0.1:4443'], credentials: null });
  });

  it('tls:// takes the server\'s CA as ?ca=FILE, beside the credentials; nats:// refuses it', () => {
    expect(resolveForward(`tls://h:4443/logs?ca=${creds}&nkey=${creds}`, dir)).toMatchObject({ tls: true, ca: creds, credentials: { kind: 'nkey', file: creds } });
    expect(codeOf(() => resolveForward(`nats://h/logs?ca=${creds}`, dir))).toMatch(/^BAD_FORWARD: .*tls:\/\//);
    expect(codeOf(() => resolveForward('tls://h/logs?ca=missing.pem', dir))).toMatch(/ca file .* cannot be read \(ENOENT\)/);
  });

  it('refuses passwords in URLs, shell characters in the remote path, wildcards, unknown parameters, missing files', () => {
    expect(codeOf(() => resolveForward('ssh://u:secret@h/x', dir))).toMatch(/^BAD_FORWARD: .*no password/);
    expect(codeOf(() => resolveForward('nats://u:secret@h/logs', dir))).toMatch(/^BAD_FORWARD: .*credentials file/);
    expect(codeOf(() => resolveForward('ssh://u@h/x;rm -rf ~', dir))).toMatch(/^BAD_FORWARD: .*only letters/);
    expect(codeOf(() => resolveForward('ssh://u@h/../etc/x', dir))).toMatch(/^BAD_FORWARD/);
    expect(codeOf(() => resolveForward('nats://h/logs.>', dir))).toMatch(/no wildcards/);
    expect(codeOf(() => resolveForward('nats://h/logs?token=x', dir))).toMatch(/unknown parameter "token"/);
    expect(codeOf(() => resolveForward(`nats://h/logs?creds=${creds}&nkey=${creds}`, dir))).toMatch(/not several/);
    expect(codeOf(() => resolveForward('nats://h/logs?creds=missing.creds', dir))).toMatch(/cannot be read \(ENOENT\)/);
    expect(codeOf(() => resolveForward('http://h/logs', dir))).toMatch(/use ssh:\/\//);
    expect(codeOf(() => resolveForward('ssh://h/x', dir))).toMatch(/name the user/);
    expect(codeOf(() => resolveForward('nats://h:99999/logs', dir))).toMatch(/out of range/);
    expect(codeOf(() => resolveForwards(['nats://h/logs', 'nats://h/logs'], dir))).toMatch(/^FORWARD_TWICE/);
  });

  it('refuses a NATS credentials file that others can read or change (exit 3)', () => {
    const open = join(dir, 'open.creds');
    writeFileSync(open, 'c');
    for (const mode of [0o644, 0o604, 0o660]) {
      chmodSync(open, mode);
      expect(codeOf(() => resolveForward(`nats://h/logs?user-password=${open}`, dir))).toMatch(/^FORWARD_CREDENTIALS_OPEN: .*chmod/);
    }
    chmodSync(open, 0o640);
    expect(codeOf(() => resolveForward(`nats://h/logs?user-password=${open}`, dir))).toBe('no error');
  });

  it('refuses identity and known-hosts paths that ssh would split at white space or expand (%h, ~)', () => {
    // ssh reads `UserKnownHostsFile=/a b` as two files, the second relative to the copy's working
    // directory, and expands %-tokens in both options: the pinned host key would not be the only one.
    const spaced = join(dir, 'known hosts');
    const percent = join(dir, 'known%h');
    writeFileSync(spaced, 'k', { mode: 0o600 });
    writeFileSync(percent, 'k', { mode: 0o600 });
    expect(codeOf(() => resolveForward(`ssh://u@h/x?known-hosts=${encodeURIComponent(spaced)}`, dir))).toMatch(/^BAD_FORWARD: .*known-hosts .*only letters/);
    expect(codeOf(() => resolveForward(`ssh://u@h/x?identity=${encodeURIComponent(percent)}`, dir))).toMatch(/^BAD_FORWARD: .*identity .*only letters/);
    expect(codeOf(() => resolveForward(`nats://h/logs?creds=${encodeURIComponent(spaced)}`, dir))).toBe('no error');
  });
});
