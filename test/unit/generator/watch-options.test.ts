import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rawOptions } from '../../../generator/options.ts';
import { resolveWatch } from '../../../generator/watch-options.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { tempDir } from '../../helpers/cli.ts';

const tmp = tempDir();
afterAll(() => tmp.dispose());
const own = { pipe: join(tmp.path, 'c.pipe'), output: join(tmp.path, 'c.log'), save: join(tmp.path, 'c.mjs') };
const resolve = (over: Parameters<typeof rawOptions>[0]) => resolveWatch(rawOptions(over), own);

function codeOf(over: Parameters<typeof rawOptions>[0]): string {
  try {
    resolve(over);
  } catch (err) {
    if (err instanceof PipesError) return err.code;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('resolveWatch', () => {
  it('absent without --watch-file, so copies without it bake what they did before', () => {
    expect(resolve({})).toBeNull();
  });

  it('bakes absolute paths and globs in the last part, from end by default', () => {
    expect(resolve({ watchFile: ['/var/log/app/x.log', '/var/log/app/*.log'] })).toEqual({ files: ['/var/log/app/x.log', '/var/log/app/*.log'], from: 'end', consume: false });
    expect(resolve({ watchFile: ['/var/log/x.log'], watchFrom: 'start', consume: true })).toMatchObject({ from: 'start', consume: true });
  });

  it('refuses what cannot be followed safely', () => {
    const fifo = join(tmp.path, 'a.fifo');
    execFileSync('mkfifo', [fifo]);
    writeFileSync(join(tmp.path, 'plain.log'), '');
    expect(codeOf({ watchFile: ['relative.log'] })).toBe('WATCH_PATH_RELATIVE');
    expect(codeOf({ watchFile: ['/var/*/x.log'] })).toBe('WATCH_GLOB');
    expect(codeOf({ watchFile: [own.output] })).toBe('WATCH_OWN_FILE');
    expect(codeOf({ watchFile: [`${own.output}.watch.pos`] })).toBe('WATCH_OWN_FILE');
    expect(codeOf({ watchFile: [own.pipe] })).toBe('WATCH_OWN_FILE');
    expect(codeOf({ watchFile: [fifo] })).toBe('WATCH_NOT_FILE');
    expect(codeOf({ watchFile: [tmp.path] })).toBe('WATCH_NOT_FILE');
    expect(codeOf({ watchFile: ['/x.log', '/x.log'] })).toBe('SAME_PATH');
    expect(codeOf({ watchFile: ['/x.log'], watchFrom: 'middle' })).toBe('BAD_CHOICE');
    expect(codeOf({ consume: true })).toBe('WATCH_OPTION_ALONE');
    expect(codeOf({ watchFrom: 'start' })).toBe('WATCH_OPTION_ALONE');
    expect(resolve({ watchFile: [join(tmp.path, 'plain.log')] })).not.toBeNull();
  });
});
