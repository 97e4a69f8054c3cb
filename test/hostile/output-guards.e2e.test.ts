import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.ts';
import { E2eFixture } from '../helpers/e2e.ts';

const fx = new E2eFixture();
const isRoot = process.getuid?.() === 0;
/** nobody's uid and gid, for files "owned by someone else" (root only). */
function nobody(): { uid: number; gid: number } {
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

/** Runs the copy and checks it refused (exit 3) with `code`, leaving no pipe behind. */
async function refuses(copy: string, pipe: string, code: RegExp): Promise<void> {
  const r = await run(copy, []);
  expect(r.stderr).toMatch(code);
  expect(r.code).toBe(3);
  expect(existsSync(pipe)).toBe(false); // the pipe it made for this run is gone again
}

describe('the copy refuses a hostile output or archive path and touches nothing', () => {
  it('a symlink at the output path: refused, the target unchanged', async () => {
    const paths = await fx.generate();
    const target = join(paths.dir, 'target.txt');
    writeFileSync(target, 'do not touch\n', { mode: 0o640 });
    symlinkSync(target, paths.output);
    await refuses(paths.copy, paths.pipe, /\[OUTPUT_SYMLINK\]/);
    expect(readFileSync(target, 'utf8')).toBe('do not touch\n');
  });

  it('a hard link to another file at the output path: refused, that file unchanged', async () => {
    const paths = await fx.generate();
    const other = join(paths.dir, 'other.txt');
    writeFileSync(other, 'someone else\n', { mode: 0o640 });
    linkSync(other, paths.output);
    await refuses(paths.copy, paths.pipe, /\[OUTPUT_LINKED\].*2 hard links/);
    expect(readFileSync(other, 'utf8')).toBe('someone else\n');
  });

  it('an output file with another mode: refused, left as it was', async () => {
    const paths = await fx.generate();
    writeFileSync(paths.output, 'earlier\n', { mode: 0o644 });
    await refuses(paths.copy, paths.pipe, /\[OUTPUT_MODE\].*644, expected 640/);
    expect(statSync(paths.output).mode & 0o777).toBe(0o644);
    expect(readFileSync(paths.output, 'utf8')).toBe('earlier\n');
  });

  it.skipIf(!isRoot)('an output file or a pipe owned by someone else: refused, left as they were (root only)', async () => {
    const other = nobody();
    const paths = await fx.generate();
    writeFileSync(paths.output, 'theirs\n', { mode: 0o640 });
    chownSync(paths.output, other.uid, other.gid);
    await refuses(paths.copy, paths.pipe, /\[OUTPUT_OWNER\].*expected/);
    expect(readFileSync(paths.output, 'utf8')).toBe('theirs\n');

    const second = await fx.generate();
    execFileSync('mkfifo', ['-m', '600', second.pipe]);
    chownSync(second.pipe, other.uid, other.gid);
    const r = await run(second.copy, []);
    expect(r.stderr).toMatch(/\[PIPE_OWNER\]/);
    expect(r.code).toBe(3);
    expect(lstatSync(second.pipe).uid).toBe(other.uid);
    expect(existsSync(second.output)).toBe(false);
  });

  it('the output directory replaced by a symlink: refused', async () => {
    const real = join(fx.tmp.path, 'logs');
    mkdirSync(real, { mode: 0o700 });
    const paths = await fx.generate(['--output', join(real, 'x.log')]);
    renameSync(real, `${real}.moved`);
    symlinkSync(`${real}.moved`, real);
    await refuses(paths.copy, paths.pipe, /\[DIR_NOT_DIRECTORY\].*output directory/);
    expect(existsSync(join(`${real}.moved`, 'x.log'))).toBe(false);
  });

  it('the archive directory replaced by a symlink: refused', async () => {
    const archive = join(fx.tmp.path, 'archive');
    mkdirSync(archive, { mode: 0o700 });
    const paths = await fx.generate(['--rotate-size', '1M', '--archive-dir', archive]);
    renameSync(archive, `${archive}.moved`);
    symlinkSync(`${archive}.moved`, archive);
    const r = await run(paths.copy, []);
    expect(r.stderr).toMatch(/\[DIR_NOT_DIRECTORY\].*archive directory/);
    expect(r.code).toBe(3);
    expect(existsSync(paths.output)).toBe(false);
  });
});
