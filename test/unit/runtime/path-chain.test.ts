import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PipesError } from '../../../runtime/errors.ts';
import { assertTrustedChain } from '../../../runtime/path-chain.ts';
import { tempDir } from '../../helpers/cli.ts';

const tmp = tempDir('pp-chain-');
afterAll(() => tmp.dispose());
const isRoot = process.getuid?.() === 0;
const WWW_DATA = 33;

function refusalOf(run: () => unknown): PipesError {
  try {
    run();
  } catch (err) {
    if (err instanceof PipesError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('assertTrustedChain', () => {
  it('accepts a private temp dir under sticky /tmp, and returns every component up to /', () => {
    const file = join(tmp.path, 'copy.mjs');
    writeFileSync(file, 'x', { mode: 0o500 });
    const chain = assertTrustedChain(file, { uids: [], what: 'test' }, true);
    expect(chain[0]!.path).toBe(file);
    expect(chain.at(-1)!.path).toBe('/');
    // Not there yet: the walk starts at its directory.
    expect(assertTrustedChain(join(tmp.path, 'absent.mjs'), { uids: [], what: 'test' }, true)[0]!.path).toBe(tmp.path);
  });

  it('refuses a group-writable directory and names it with its owner and mode', () => {
    const dir = join(tmp.path, 'gw');
    mkdirSync(dir);
    chmodSync(dir, 0o775);
    const err = refusalOf(() => assertTrustedChain(join(dir, 'copy.mjs'), { uids: [], what: '--save-path' }, false));
    expect(err.code).toBe('CHAIN_WRITABLE');
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain(`--save-path: "${dir}"`);
    expect(err.message).toMatch(/mode 775/);
  });

  it('refuses a sticky world-writable directory with nothing trusted below it yet', () => {
    const dir = join(tmp.path, 'sticky');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    expect(refusalOf(() => assertTrustedChain(join(dir, 'new.mjs'), { uids: [], what: 't' }, false)).code).toBe('CHAIN_WRITABLE');
    const file = join(dir, 'placed.mjs');
    writeFileSync(file, 'x', { mode: 0o500 });
    // The file below it is trusted (root's or ours), and the sticky bit keeps others from renaming it.
    expect(() => assertTrustedChain(file, { uids: [process.getuid?.() ?? 0], what: 't' }, true)).not.toThrow();
  });

  it('refuses symlinks anywhere in the chain', () => {
    const real = join(tmp.path, 'real');
    mkdirSync(real);
    symlinkSync(real, join(tmp.path, 'link'));
    const err = refusalOf(() => assertTrustedChain(join(tmp.path, 'link', 'copy.mjs'), { uids: [], what: 't' }, false));
    expect(err.code).toBe('CHAIN_SYMLINK');
    expect(err.message).toMatch(/realpath/);
  });

  it('refuses a group-writable file itself, even in a trusted directory', () => {
    const file = join(tmp.path, 'gw.mjs');
    writeFileSync(file, 'x');
    chmodSync(file, 0o570);
    expect(refusalOf(() => assertTrustedChain(file, { uids: [], what: 't' }, true)).code).toBe('CHAIN_WRITABLE');
  });

  it.skipIf(!isRoot)('refuses a directory owned by another user (www-data, mode 755) unless that uid is trusted', () => {
    const dir = join(tmp.path, 'www');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, WWW_DATA, WWW_DATA);
    const err = refusalOf(() => assertTrustedChain(join(dir, 'copy.mjs'), { uids: [], what: '--save-path' }, false));
    expect(err.code).toBe('CHAIN_OWNER');
    expect(err.message).toMatch(/owned by uid 33/);
    expect(() => assertTrustedChain(join(dir, 'copy.mjs'), { uids: [WWW_DATA], what: 't' }, false)).not.toThrow();
  });
});
if (!isRoot) console.log('path-chain: the ownership case needs root (chown); skipped');
