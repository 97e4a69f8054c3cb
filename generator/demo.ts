import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../runtime/errors.ts';
import type { CliIo } from './cli.ts';
import { runDecryptCommand } from './decrypt-command.ts';
import { runEncrypterCommand } from './encrypter-command.ts';
import { generateKeyPair } from './keygen.ts';
import { rawOptions } from './options.ts';
import { waitForReader } from './start.ts';
import { runVerifyCommand } from './verify-command.ts';

const SAMPLE_LINES = 12;

/**
 * The whole flow once, on a throwaway key in a temp dir: generate a copy, start it, write
 * nginx-style lines into its pipe, stop it with the quit string, decrypt, compare.
 */
export async function runDemo(io: CliIo, keep: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'paranoid-pipes-demo-'));
  try {
    io.out(`1. temp dir ${dir}\n`);
    const passphrase = randomBytes(16).toString('hex');
    const pair = await generateKeyPair('demo-admin@example.org', 'paranoid-pipes demo', passphrase);
    const publicKey = join(dir, 'admin.pub.asc');
    const secretKey = join(dir, 'admin.sec.asc');
    const passphraseFile = join(dir, 'passphrase');
    await writeFile(publicKey, pair.publicKey, { mode: 0o644 });
    await writeFile(secretKey, pair.privateKey, { mode: 0o600 });
    await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
    io.out(`2. throwaway key ${pair.fingerprint} (in real use the secret key never is on the server)\n`);

    const quit = `quit-${randomBytes(12).toString('hex')}`;
    const paths = { pipe: join(dir, 'access.log.pipe'), output: join(dir, 'access.log.asc'), copy: join(dir, 'encrypt-access-log.mjs') };
    io.out('3. generating the encrypter copy:\n');
    await runEncrypterCommand(
      rawOptions({ recipientKey: [publicKey], pipe: paths.pipe, output: paths.output, savePath: paths.copy, quitString: quit, header: ['# demo vhost www.example.org'] }),
      { out: (t) => io.out(indent(t)), err: io.err },
    );

    io.out('4. starting the copy and writing nginx-style lines into its pipe\n');
    const copy = spawn(paths.copy, [], { stdio: ['ignore', 'ignore', 'pipe'] });
    let copyStderr = '';
    copy.stderr.setEncoding('utf8').on('data', (t: string) => (copyStderr += t));
    const exited = new Promise<number | null>((resolve) => copy.on('exit', resolve));
    await waitForReader(paths.pipe, 10_000);
    const lines = sampleLines(SAMPLE_LINES);
    const pipe = await fsp.open(paths.pipe, constants.O_WRONLY | constants.O_NONBLOCK);
    for (const line of lines) await pipe.write(`${line}\n`);
    await pipe.write(`${quit}\n`);
    await pipe.close();
    const code = await exited;
    io.out(`5. the copy stopped on the quit string (exit ${code}); its own diagnostics:\n${indent(copyStderr)}`);

    const encrypted = await readFile(paths.output, 'utf8');
    io.out(`6. the encrypted log holds ${encrypted.length} bytes in ${encrypted.split('-----BEGIN PGP MESSAGE-----').length - 1} messages; it begins:\n`);
    io.out(indent(`${encrypted.split('\n').slice(0, 4).join('\n')}\n...\n`));

    io.out(`7. decrypting with the secret key:\n`);
    const chunks: Buffer[] = [];
    const decryptCode = await runDecryptCommand([paths.output], { key: [secretKey], passphraseFile, showControl: true }, {
      ...io,
      err: (t) => io.out(indent(t)),
      writeData: async (bytes) => {
        chunks.push(Buffer.from(bytes));
      },
    });
    const text = Buffer.concat(chunks).toString('utf8');
    io.out(indent(text));
    const expected = ['# demo vhost www.example.org', ...lines].map((l) => `${l}\n`).join('');
    io.out('8. verifying every seal (nothing altered, removed, reordered or forged):\n');
    const verifyCode = await runVerifyCommand([paths.output], { key: [secretKey], passphraseFile }, { ...io, out: (t) => io.out(indent(t)) });
    const ok = code === 0 && decryptCode === 0 && verifyCode === 0 && text === expected;
    io.out(ok ? `9. OK: all ${SAMPLE_LINES} lines came back exactly, after the header, and every seal verified.\n` : '9. FAILED: the decrypted log differs from what was written, or a seal did not verify.\n');
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    if (keep) io.out(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '   ');
}

function sampleLines(n: number): string[] {
  const paths = ['/', '/login', '/api/v1/orders?id=4711', '/static/app.js', '/account/settings', '/search?q=diagnosis'];
  const agents = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)'];
  return Array.from({ length: n }, (_, i) => {
    const ip = `203.0.113.${(i * 37) % 254}`;
    const status = [200, 200, 302, 404, 200, 500][i % 6];
    return `${ip} - user${i} [22/Nov/2026:06:${String(i % 60).padStart(2, '0')}:00 +0000] "GET ${paths[i % paths.length]} HTTP/1.1" ${status} ${512 + i * 13} "-" "${agents[i % agents.length]}"`;
  });
}
