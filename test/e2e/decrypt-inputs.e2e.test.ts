import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { CLI, cli, run, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';

/**
 * The admin's decrypter on a host's whole log directory: a real copy with rotation wrote the
 * live log, kept rotated logs and archives; a second copy wrote another log beside it.
 */
const fx = new E2eFixture();
let host: string; // the log directory, as copied from the server
let www: string; // its live log
let sealedBetween: Date; // after every block of the first burst, before any of the second
const WWW_LINES = 6_000;
const APP_LINES = 300;

/** Generates a copy writing into `dir` (pipe, log, archives), the copy itself saved outside it. */
async function generateIn(dir: string, name: string, extra: string[]): Promise<{ pipe: string; log: string; copy: string }> {
  const paths = { pipe: join(fx.tmp.path, `${name}.pipe`), log: join(dir, `${name}.log`), copy: join(fx.tmp.path, `${name}.mjs`) };
  const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', paths.pipe, '--output', paths.log, '--save-path', paths.copy, '--quit-string', QUIT, ...extra]);
  expect(r.stderr).toBe('');
  return paths;
}

beforeAll(async () => {
  await fx.setup();
  host = join(fx.tmp.path, 'host');
  mkdirSync(join(host, 'archive'), { recursive: true, mode: 0o700 });
  const w = await generateIn(host, 'www', ['--rotate-size', '4K', '--rotate-check-every', '1', '--archive-dir', join(host, 'archive'), '--rotate-actions', 'compress-encrypt']);
  www = w.log;
  let copy = fx.start({ dir: host, pipe: w.pipe, output: w.log, copy: w.copy });
  await waitForReader(w.pipe, 10_000);
  const BURSTS = 20;
  for (let burst = 0; burst < BURSTS; burst += 1) {
    await writerProcess(w.pipe, 'w', WWW_LINES / BURSTS, 40, (burst * WWW_LINES) / BURSTS);
    await new Promise((r) => setTimeout(r, 20));
    if (burst === BURSTS / 2 - 1) {
      // The next whole second after every block of the first half was sealed: the seal time
      // (whole seconds) of each block says on which side of it the block is.
      await new Promise((r) => setTimeout(r, 300));
      sealedBetween = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000);
      while (Date.now() < sealedBetween.getTime() + 50) await new Promise((r) => setTimeout(r, 20));
    }
  }
  sendQuit(w.pipe);
  expect(await copy.exited, copy.stderr()).toBe(0);

  const a = await generateIn(host, 'app', []);
  copy = fx.start({ dir: host, pipe: a.pipe, output: a.log, copy: a.copy });
  await waitForReader(a.pipe, 10_000);
  for (let burst = 0; burst < 3; burst += 1) {
    await writerProcess(a.pipe, 'a', APP_LINES / 3, 10, (burst * APP_LINES) / 3);
    await new Promise((r) => setTimeout(r, 30));
  }
  sendQuit(a.pipe);
  expect(await copy.exited, copy.stderr()).toBe(0);

  // What a crash and the admin's copying leave: the oldest rotation only kept (its archive
  // lost), the next one only aside (never archived), the rest only archived.
  const kept = readdirSync(host).filter((n) => /^www\.log\.\d{8}T\d{6}\.\d{3}Z\.\d+$/.test(n)).sort();
  expect(kept.length).toBeGreaterThanOrEqual(4);
  rmSync(join(host, 'archive', `${kept[0]}.gz.gpg`));
  renameSync(join(host, kept[1]!), join(host, `${kept[1]}.aside`));
  rmSync(join(host, 'archive', `${kept[1]}.gz.gpg`));
  for (const k of kept.slice(2)) rmSync(join(host, k));
  writeFileSync(join(host, 'notes.txt'), 'not a log\n');
}, 120_000);
afterAll(() => fx.dispose());

const decrypt = (args: string[], input?: Buffer) => cli(['decrypt', '--key', fx.keyFiles.sec, ...args], { input });

describe('decrypt inputs', () => {
  it('a directory: live log, kept, aside and archived rotations of each source, every line once and in order', async () => {
    const r = await decrypt([host]);
    expect(r.stderr).toMatch(/left out 1 file\(s\) that are not encrypted logs: .*notes\.txt/);
    expect(r.stderr).not.toMatch(/missing-blocks|torn|undecryptable|garbage/);
    expect(r.code).toBe(0);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('w')).toEqual(range(WWW_LINES));
    expect(by.get('a')).toEqual(range(APP_LINES));
    // Grouped per source: app.log comes first by name, then every www file.
    const text = r.stdout.toString();
    expect(text.lastIndexOf('writer=a ')).toBeLessThan(text.indexOf('writer=w '));
  });

  it('--quiet leaves out the notices', async () => {
    const r = await decrypt(['--quiet', host]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('standard input as "-", and a FIFO read as a live stream until its writer closes', async () => {
    const fromStdin = await decrypt(['-'], readFileSync(join(host, 'app.log')));
    expect(fromStdin.code).toBe(0);
    expect(linesByWriter(fromStdin.stdout.toString()).get('a')).toEqual(range(APP_LINES));

    const fifo = join(fx.tmp.path, 'in.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const pending = decrypt([fifo]);
    const writer = run(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'bytes-writer.mjs'), fifo, join(host, 'app.log'), '1000']);
    const [r, w] = await Promise.all([pending, writer]);
    expect(w.code).toBe(0);
    expect(r.stderr).toMatch(/^paranoid-pipes decrypt: reading FIFO ".*in\.fifo" until its writers close it\n$/);
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('a')).toEqual(range(APP_LINES));
  });
});

describe('decrypt search', () => {
  it('--grep (any of several) and --ignore select lines, not blocks', async () => {
    const r = await decrypt(['--quiet', '--grep', 'seq=1[0-9] ', '--grep', 'seq=4242 ', '--ignore', 'seq=13 ', host]);
    expect(r.code).toBe(0);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('w')).toEqual([10, 11, 12, 14, 15, 16, 17, 18, 19, 4242]);
    expect(by.get('a')).toEqual([10, 11, 12, 14, 15, 16, 17, 18, 19]);
    expect(r.stdout.toString().split('\n').filter((l) => l !== '').length).toBe(19);
  });

  it('--since and --until select blocks by their seal time; --host and --stream by their stream', async () => {
    const half = WWW_LINES / 2;
    const since = await decrypt(['--quiet', '--since', sealedBetween.toISOString(), host]);
    expect(since.code).toBe(0);
    expect(linesByWriter(since.stdout.toString()).get('w')).toEqual(range(half).map((i) => i + half));
    const until = await decrypt(['--quiet', '--until', sealedBetween.toISOString(), '--grep', '^writer=w ', host]);
    expect(linesByWriter(until.stdout.toString()).get('w')).toEqual(range(half));

    const hostname = execFileSync('hostname').toString().trim();
    const other = await decrypt(['--quiet', '--host', 'no-such-host', host]);
    expect(other.stdout.length).toBe(0);
    const mine = await decrypt(['--quiet', '--host', hostname, join(host, 'app.log')]);
    expect(linesByWriter(mine.stdout.toString()).get('a')).toEqual(range(APP_LINES));

    const json = await decrypt(['--quiet', '--json', join(host, 'app.log')]);
    const stream = (JSON.parse(json.stdout.toString().split('\n')[0]!) as { stream: string }).stream;
    const byStream = await decrypt(['--quiet', '--stream', stream.slice(0, 8), host]);
    const by = linesByWriter(byStream.stdout.toString());
    expect(by.get('a')).toEqual(range(APP_LINES));
    expect(by.has('w')).toBe(false);
  });

  it('bad patterns, times and combinations exit 2 with a clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--grep', 'a(b'], /BAD_REGEX.*--grep "a\(b" is not a valid regular expression/],
      [['--ignore', '['], /BAD_REGEX.*--ignore/],
      [['--since', 'last tuesday'], /BAD_TIME.*--since must be a time/],
      [['--until', '2026-02-30'], /BAD_TIME/],
      [['--since', '2026-11-24T03:00Z', '--until', '2026-11-24T02:00Z'], /BAD_TIME_RANGE/],
      [['--stream', 'xyz'], /BAD_STREAM/],
      [['--to-pipe-mode', '600'], /TO_PIPE_MODE_ALONE/],
      [['--to-pipe', join(fx.tmp.path, 'p'), '--to-pipe-mode', '644'], /BAD_MODE/],
      [['--to-pipe', join(fx.tmp.path, 'p'), '--output', join(fx.tmp.path, 'o')], /OUTPUT_TWICE/],
      [['--follow', join(host, 'app.log'), www], /FOLLOW_ONE_LOG/],
    ];
    for (const [args, message] of cases) {
      const r = await decrypt([...args, host]);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout.length).toBe(0);
    }
    expect(existsSync(join(fx.tmp.path, 'p'))).toBe(false);
  });
});

describe('decrypt --json', () => {
  const jq = (filter: string, input: Buffer) => execFileSync('jq', ['-c', filter], { input }).toString();

  it('one object per line and control record, read by jq, with time, host, stream, seq, kind and line', async () => {
    const r = await decrypt(['--quiet', '--json', join(host, 'app.log')]);
    expect(r.code).toBe(0);
    const kinds = jq('.kind', r.stdout).trim().split('\n');
    expect(kinds.filter((k) => k === '"line"').length).toBe(APP_LINES);
    expect(kinds[0]).toBe('"control"');
    expect(jq('select(.kind == "control") | .type', r.stdout)).toMatch(/"stream-start"\n(.|\n)*"stream-end"/);
    const lines = jq('select(.kind == "line") | .line', r.stdout).trim().split('\n').map((l) => JSON.parse(l) as string);
    expect(lines.map((l) => Number(/seq=(\d+)/.exec(l)?.[1]))).toEqual(range(APP_LINES));
    const first = JSON.parse(r.stdout.toString().split('\n')[1]!) as Record<string, unknown>;
    expect(first).toMatchObject({ v: 1, kind: 'line', host: execFileSync('hostname').toString().trim(), seq: 1 });
    expect(first.stream).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(Date.parse(first.time as string) - Date.now())).toBeLessThan(600_000);
  });

  it('bytes that are not UTF-8 come as base64 with a flag; jq decodes them back', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    const fd = openSync(paths.pipe, 'w');
    writeSync(fd, Buffer.from([0x6f, 0x6b, 0x0a, 0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]));
    writeSync(fd, `${QUIT}\n`);
    closeSync(fd);
    expect(await copy.exited).toBe(0);
    const r = await decrypt(['--quiet', '--json', paths.output]);
    expect(r.code).toBe(0);
    const lines = jq('select(.kind == "line") | [.line, .encoding]', r.stdout).trim().split('\n');
    expect(lines).toEqual(['["ok",null]', '["YmFk//4=","base64"]']);
    expect(Buffer.from(JSON.parse(lines[1]!)[0] as string, 'base64')).toEqual(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]));
  });
});

describe('a truncated block in the middle', () => {
  it('leaves every other line readable, in text, --grep and --json; the problem is reported in each', async () => {
    const text = readFileSync(join(host, 'app.log'), 'latin1');
    const begins = [...text.matchAll(/-----BEGIN PGP MESSAGE-----/g)].map((m) => m.index);
    expect(begins.length).toBeGreaterThanOrEqual(4);
    const cut = begins[2]!; // the second data block (the first two: stream-start and data)
    const torn = join(fx.tmp.path, 'torn-middle.log');
    writeFileSync(torn, Buffer.from(text.slice(0, cut + 200) + text.slice(begins[3]!), 'latin1'));
    const whole = linesByWriter((await decrypt(['--quiet', join(host, 'app.log')])).stdout.toString()).get('a')!;
    const plain = await decrypt(['--quiet', torn]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(new RegExp(`offset ${cut}: torn`));
    const got = linesByWriter(plain.stdout.toString()).get('a')!;
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(whole.length);
    const grep = await decrypt(['--quiet', '--grep', 'writer=a', torn]);
    expect(linesByWriter(grep.stdout.toString()).get('a')).toEqual(got);
    const json = await decrypt(['--quiet', '--json', torn]);
    expect(json.code).toBe(1);
    const objects = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Where it is, then what it cost: the gap in the stream and the lines the copy wrote but we lack.
    const problems = objects.filter((o) => o.kind === 'problem');
    expect(problems.map((p) => p.problem)).toEqual(['torn', 'missing-blocks', 'count-mismatch']);
    expect(problems[0]).toMatchObject({ offset: cut, source: torn });
    expect(objects.filter((o) => o.kind === 'line').length).toBe(got.length);
  });
});

describe('progress', () => {
  it('is drawn on a terminal (a real pty) and not otherwise', async () => {
    const out = join(fx.tmp.path, 'progress-out.txt');
    // script(1) gives the command a pty for stderr; the plaintext goes to --output.
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, CLI, 'decrypt', '--key', fx.keyFiles.sec, '--output', out, host].map(quote).join(' ');
    const r = await run('script', ['-qec', command, '/dev/null']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/decrypt: \d+ blocks +[\d.]+\/[\d.]+ MB +[\d.]+ MB\/s/);
    expect(linesByWriter(readFileSync(out, 'utf8')).get('w')).toEqual(range(WWW_LINES));
    const quiet = await run('script', ['-qec', `${command.replace(quote(out), quote(`${out}.2`))} --quiet`, '/dev/null']);
    expect(quiet.stdout.toString()).not.toMatch(/MB\/s/);
    const notTty = await decrypt(['--output', `${out}.3`, host]);
    expect(notTty.stderr).not.toMatch(/MB\/s/);
  });
});

describe('on a terminal', () => {
  it('shows logged escape sequences escaped (said once), --raw and a pipe give the exact bytes', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    const hostile = '\x1b]0;owned\x07title\n\x1b]52;c;ZXZpbA==\x07clipboard\nhidden\r\x1b[2Kshown\n';
    const fd = openSync(paths.pipe, 'w');
    writeSync(fd, `plain line\n${hostile}${QUIT}\n`);
    closeSync(fd);
    expect(await copy.exited).toBe(0);
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, CLI, 'decrypt', '--key', fx.keyFiles.sec, paths.output].map(quote).join(' ');
    const onTty = await run('script', ['-qec', command, '/dev/null']);
    expect(onTty.code).toBe(0);
    const seen = onTty.stdout.toString('utf8');
    expect(seen).toContain('\\x1b]0;owned\\x07title');
    expect(seen).toContain('\\x1b]52;c;ZXZpbA==\\x07clipboard');
    expect(seen).toContain('hidden\\x0d\\x1b[2Kshown');
    expect(seen).not.toContain('\x1b]');
    expect(seen.match(/shown escaped/g)?.length).toBe(1);
    const raw = (await run('script', ['-qec', `${command} --raw`, '/dev/null'])).stdout.toString('utf8');
    expect(raw).toContain('\x1b]0;owned\x07title');
    const piped = await decrypt([paths.output]);
    expect(piped.stdout.toString('utf8')).toBe(`plain line\n${hostile}`);
    expect(piped.stderr).toBe('');
  });
});
