import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, ROOT, run, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

function writeLines(pipe: string, text: string): void {
  const fd = openSync(pipe, 'w');
  writeSync(fd, text);
  closeSync(fd);
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('encrypter copy behaviour', () => {
  it('reproduces arbitrary bytes exactly: binary, NUL, invalid UTF-8, CRLF, huge lines, no final newline', async () => {
    const paths = await fx.generate(['--binary']);
    const input = Buffer.concat([
      Buffer.from('plain line\r\n\n\nline with NUL \0 and \xff\xfe invalid UTF-8\n', 'latin1'),
      randomBytes(300_000), // random bytes: newlines at random places, lines of any length
      Buffer.alloc(700_000, 0x41), // one line far larger than the pipe buffer and the 256 KiB block cap
      Buffer.from('\nlast line without newline'),
    ]);
    const file = join(fx.tmp.path, 'bytes.bin');
    writeFileSync(file, input);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const w = await run(process.execPath, [join(ROOT, 'test', 'helpers', 'bytes-writer.mjs'), paths.pipe, file, '65536']);
    expect(w.code).toBe(0);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const r = await fx.decrypt([paths.output]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(r.stdout.equals(input)).toBe(true);
    expect(fx.gpgBlocks(paths.output).data.equals(input)).toBe(true);
  });

  it('SIGHUP reopens the output: after a move aside, new blocks go to a fresh file with the baked mode', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--output-mode', '600']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await writerProcess(paths.pipe, 'before', 500);
    // stream-start plus at least one data message on disk
    await until(() => existsSync(paths.output) && (readFileSync(paths.output, 'utf8').match(/END PGP MESSAGE/g) ?? []).length >= 2, 'the first blocks');
    await new Promise((r) => setTimeout(r, 100));
    const aside = `${paths.output}.1`;
    renameSync(paths.output, aside);
    copy.child.kill('SIGHUP');
    await until(() => copy.stderr().includes('OUTPUT_REOPENED') || existsSync(paths.output), 'the reopen');
    await writerProcess(paths.pipe, 'after', 500);
    writeLines(paths.pipe, `${QUIT}\n`);
    expect(await copy.exited).toBe(0);
    const { statSync } = await import('node:fs');
    expect(statSync(paths.output).mode & 0o777).toBe(0o600);
    const r = await fx.decrypt([aside, paths.output]);
    expect(r.code).toBe(0);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('before')).toEqual(range(500));
    expect(by.get('after')).toEqual(range(500));
    expect(linesByWriter((await fx.decrypt([paths.output])).stdout.toString()).get('before')).toBeUndefined();
  });

  for (const how of ['deleted', 'moved away'] as const) {
    it(`a log ${how} behind its back: a fresh log is opened, the event recorded, nothing later lost`, async () => {
      const paths = await fx.generate(['--quit-string', QUIT]);
      const copy = fx.start(paths);
      await waitForReader(paths.pipe, 10_000);
      await writerProcess(paths.pipe, 'one', 200);
      await until(() => existsSync(paths.output) && (readFileSync(paths.output, 'utf8').match(/END PGP MESSAGE/g) ?? []).length >= 2, 'the first blocks');
      const moved = `${paths.output}.moved`;
      if (how === 'deleted') (await import('node:fs')).unlinkSync(paths.output);
      else renameSync(paths.output, moved);
      await writerProcess(paths.pipe, 'two', 200);
      writeLines(paths.pipe, `${QUIT}\n`);
      expect(await copy.exited).toBe(0);
      expect(copy.stderr()).toMatch(/OUTPUT_REPLACED/);
      const fresh = await fx.decrypt([paths.output], ['--show-control']);
      expect(fresh.stderr).toMatch(new RegExp(`"event":"output-replaced","detail":"[^"]*deleted or moved away`));
      expect(linesByWriter(fresh.stdout.toString()).get('two')).toEqual(range(200));
      if (how === 'moved away') {
        const both = await fx.decrypt([moved, paths.output]);
        expect(linesByWriter(both.stdout.toString()).get('one')).toEqual(range(200));
      }
    });
  }

  it('SIGINT stops it like SIGTERM', async () => {
    const paths = await fx.generate();
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await writerProcess(paths.pipe, 'i', 100);
    copy.child.kill('SIGINT');
    expect(await copy.exited).toBe(0);
    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.stderr).toMatch(/"reason":"signal SIGINT"/);
    expect(linesByWriter(r.stdout.toString()).get('i')).toEqual(range(100));
  });

  it('--compress none writes no compressed packet; the default zlib does', async () => {
    const packets = async (extra: string[]) => {
      const paths = await fx.generate(['--quit-string', QUIT, ...extra]);
      const copy = fx.start(paths);
      await waitForReader(paths.pipe, 10_000);
      writeLines(paths.pipe, `${'compressible line\n'.repeat(200)}${QUIT}\n`);
      expect(await copy.exited).toBe(0);
      const first = readFileSync(paths.output, 'utf8').split(/(?<=-----END PGP MESSAGE-----\n)/)[1]!;
      return fx.gpg.run(['--list-packets'], first).toString();
    };
    expect(await packets([])).toMatch(/compressed packet: algo=2/);
    expect(await packets(['--compress', 'none'])).not.toMatch(/compressed packet/);
  });

  it('--start installs, starts detached and returns once the copy reads its pipe', async () => {
    const dir = fx.tmp.path;
    const pipe = join(dir, 'started.pipe');
    const output = join(dir, 'started.log');
    const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', pipe, '--output', output, '--save-path', join(dir, 'started.mjs'), '--quit-string', QUIT, '--start']);
    expect(r.code).toBe(0);
    const pid = Number(/started: pid (\d+)/.exec(r.stdout.toString())?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      writeLines(pipe, `detached line\n${QUIT}\n`);
      await until(() => !existsSync(pipe), 'the started copy to stop');
      expect((await fx.decrypt([output])).stdout.toString()).toBe('detached line\n');
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  });

  it('takes a binary public key file as well as an armored one', async () => {
    const binary = join(fx.tmp.path, 'admin.pub.gpg');
    writeFileSync(binary, (await openpgp.readKey({ armoredKey: fx.key.publicArmored })).write());
    const paths = await fx.generate(['--recipient-key', binary, '--quit-string', QUIT]);
    const help = await run(paths.copy, ['--help']);
    expect(help.stdout.toString().match(new RegExp(fx.key.fingerprint, 'g'))).toHaveLength(1); // deduplicated
  });
});
