import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PipesError } from '../../../../runtime/errors.ts';
import { CollectorFile } from '../../../../runtime/receive/collector-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-collector-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function withUmask<T>(mask: number, f: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await f();
  } finally {
    process.umask(old);
  }
}

describe('CollectorFile.open', () => {
  it('creates a log with exactly the mode asked for, whatever the umask', async () => {
    const path = join(dir, 'exact.log.asc');
    const file = await withUmask(0o077, () => CollectorFile.open(path, 0o640));
    await file.close();
    expect(statSync(path).mode & 0o7777).toBe(0o640);
  });

  it('leaves the mode of a log that is already there', async () => {
    const path = join(dir, 'existing.log.asc');
    writeFileSync(path, '');
    chmodSync(path, 0o600);
    await (await CollectorFile.open(path, 0o644)).close();
    expect(statSync(path).mode & 0o7777).toBe(0o600);
  });

  it('refuses a symlink, dangling or not', async () => {
    const path = join(dir, 'link.log.asc');
    symlinkSync(join(dir, 'nowhere'), path);
    const err = await CollectorFile.open(path, 0o640).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipesError);
    expect((err as PipesError).code).toBe('COLLECT_SYMLINK');
  });
});
