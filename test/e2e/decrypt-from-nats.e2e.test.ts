import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { connect, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, type CopyPaths } from '../helpers/e2e.ts';
import { missingForNats, TestNats, until } from '../helpers/servers.ts';

const missing = missingForNats() ?? (hasOpenssl() ? null : 'needs openssl (a test CA)');
if (missing !== null) console.log(`skipping decrypt --from nats:// tests: ${missing}`);

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const fx = new E2eFixture();
const servers: TestNats[] = [];

beforeAll(async () => {
  if (missing !== null) return;
  await fx.setup();
}, 60_000);
afterAll(async () => {
  for (const s of servers) await s.stop();
  fx.dispose();
});

async function server(name: string, extra = ''): Promise<TestNats> {
  const s = await TestNats.create(join(fx.tmp.path, name), undefined, extra);
  servers.push(s);
  return s;
}

/** The stream a collector would create: decrypt --from only reads, it creates nothing. */
async function addStream(port: number, subject: string, options: Partial<ConnectionOptions> = {}): Promise<void> {
  const nc = await connect({ servers: [`127.0.0.1:${port}`], timeout: 10_000, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: subject.toUpperCase(), subjects: [subject] });
  } finally {
    await nc.close();
  }
}

function quit(pipe: string): void {
  const fd = openSync(pipe, 'w');
  writeSync(fd, `${QUIT}\n`);
  closeSync(fd);
}

const decryptFrom = (url: string, extra: readonly string[] = []) => fx.decrypt([], ['--from', url, ...extra]);

/** Decrypts the subject until `n` lines of `writer` came back (the copy forwards in the background). */
async function untilLines(url: string, writer: string, n: number, copy: { stderr: () => string }): Promise<Map<string, number[]>> {
  let got = new Map<string, number[]>();
  let said = '';
  await until(async () => {
    const r = await decryptFrom(url);
    said = r.stderr.toString();
    got = linesByWriter(r.stdout.toString());
    return (got.get(writer)?.length ?? 0) >= n;
  }, `${n} lines of ${writer} through decrypt --from`).catch((err: Error) => {
    throw new Error(`${err.message}\ndecrypt said:\n${said}\ncopy said:\n${copy.stderr()}`);
  });
  return got;
}

/** A copy forwarding to `url`, `count` lines written; resolves once they are readable there. */
async function forwardLines(url: string, name: string, count: number): Promise<{ paths: CopyPaths; copy: Awaited<ReturnType<typeof fx.startReading>> }> {
  const paths = await fx.generate(['--quit-string', QUIT, '--forward', url], name);
  const copy = await fx.startReading(paths);
  await writerProcess(paths.pipe, name, count);
  const got = await untilLines(url, name, count, copy);
  expect([...got.keys()]).toEqual([name]);
  expect(got.get(name), 'every line once, in order').toEqual(range(count));
  return { paths, copy };
}

describe.skipIf(missing !== null)('decrypt --from nats:// reads a JetStream subject', () => {
  it('prints every forwarded line once; --follow prints lines written later, rides out a server restart and ends on SIGTERM with 0', async () => {
    const nats = await server('plain');
    await addStream(nats.port, 'plogs');
    const url = `${nats.url}/plogs`;
    const { paths, copy } = await forwardLines(url, 'p1', 300);

    // --log and --host pick by the headers the copy set: another name reads nothing.
    expect(linesByWriter((await decryptFrom(url, ['--log', 'p1.log'])).stdout.toString()).get('p1')).toEqual(range(300));
    expect((await decryptFrom(url, ['--log', 'other.log'])).stdout.toString()).toBe('');

    const follow = spawn(process.execPath, [CLI, 'decrypt', '--key', fx.keyFiles.sec, '--from', url, '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    follow.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    follow.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const exited = new Promise<number | null>((r) => follow.once('exit', r));
    try {
      await until(() => linesByWriter(out).get('p1')?.length === 300, 'the stored lines followed');
      await writerProcess(paths.pipe, 'p1', 200, 40, 300);
      await until(() => linesByWriter(out).get('p1')?.length === 500, 'lines written later followed').catch((e: Error) => {
        throw new Error(`${e.message}\ndecrypt said:\n${err}\ncopy said:\n${copy.stderr()}`);
      });
      // The server restarted under the follow: it reconnects and goes on where it was.
      await nats.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      await nats.start();
      await writerProcess(paths.pipe, 'p1', 100, 40, 500);
      await until(() => linesByWriter(out).get('p1')?.length === 600, 'lines written after a server restart followed', 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\ndecrypt said:\n${err}\ncopy said:\n${copy.stderr()}`);
      });
      follow.kill('SIGTERM');
      expect(await exited, err).toBe(0);
    } finally {
      if (follow.exitCode === null) follow.kill('SIGKILL');
    }
    expect(linesByWriter(out).get('p1'), 'every line once').toEqual(range(600));

    quit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);
    expect(linesByWriter((await decryptFrom(url)).stdout.toString()).get('p1')).toEqual(range(600));
    // --since after the last block: nothing, and no waiting.
    expect((await decryptFrom(url, ['--since', 'now'])).stdout.toString()).toBe('');
  }, 120_000);

  it('no stream for the subject: refused with a reason, not a hang', async () => {
    const nats = await server('empty');
    const r = await decryptFrom(`${nats.url}/nothing.here`);
    expect(r.code).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/NATS_NO_STREAM/);
  }, 30_000);

  it('tls:// with the CA named by ?ca=: the copy forwards, decrypt reads; without the CA the certificate is refused', async () => {
    const dir = join(fx.tmp.path, 'ca');
    const { ca, cert, key } = makeCertificates(dir);
    const nats = await server('tls', `tls { cert_file: "${cert}", key_file: "${key}" }\n`);
    await addStream(nats.port, 'tlogs', { tls: { caFile: ca } });
    const url = `tls://127.0.0.1:${nats.port}/tlogs?ca=${ca}`;
    const { paths, copy } = await forwardLines(url, 't1', 200);
    quit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);

    const unverified = await decryptFrom(`tls://127.0.0.1:${nats.port}/tlogs`);
    expect(unverified.code).not.toBe(0);
    expect(unverified.stderr.toString()).toMatch(/NATS_UNREACHABLE.*(certificate|self.signed|issuer)/i);
    // A TLS server reached without TLS is refused too.
    expect((await decryptFrom(`nats://127.0.0.1:${nats.port}/tlogs`)).code).not.toBe(0);
  }, 120_000);

  it('?nkey= with a seed file (mode 600): a server that knows only that nkey user takes the blocks', async () => {
    const user = createUser();
    const seed = join(fx.tmp.path, 'copy.nk');
    writeFileSync(seed, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    const nats = await server('nkey', `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    await addStream(nats.port, 'nlogs', { authenticator: nkeyAuthenticator(user.getSeed()) });
    const url = `${nats.url}/nlogs?nkey=${seed}`;
    const { paths, copy } = await forwardLines(url, 'n1', 200);
    quit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);

    // Without the seed the server refuses the connection.
    const anonymous = await decryptFrom(`${nats.url}/nlogs`);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr.toString()).toMatch(/NATS_UNREACHABLE/);
  }, 120_000);
});

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { mode: 0o700 });
  const f = (name: string) => join(dir, name);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=pp test CA']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('san.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n');
  ssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}
