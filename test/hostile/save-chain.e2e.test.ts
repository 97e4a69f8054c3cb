import { chmodSync, chownSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, run } from '../helpers/cli.ts';
import { E2eFixture } from '../helpers/e2e.ts';

/**
 * The jail escape of issue 9: a save directory owned by the logged service's user let that user
 * swap the copy root starts. Every directory up to / is now checked, at generation and by the
 * copy itself at every start.
 */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const isRoot = process.getuid?.() === 0;
const WWW_DATA = 33;
if (!isRoot) console.log('save-chain: chown to www-data needs root; skipped');

describe.skipIf(!isRoot)('the copy\'s directory chain (as root)', () => {
  it('refuses at generation a save directory owned by www-data (mode 755), writing nothing', async () => {
    const dir = join(fx.tmp.path, 'www-owned');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, WWW_DATA, WWW_DATA);
    const copy = join(dir, 'www.mjs');
    const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', join(fx.tmp.path, 'g.pipe'), '--output', join(fx.tmp.path, 'g.log'), '--save-path', copy, '--save-owner', 'root:root', '--save-mode', '100']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[CHAIN_OWNER\]: --save-path: ".*www-owned" \(owner 33:33, mode 755\) is owned by uid 33/);
    expect(existsSync(copy)).toBe(false);
  });

  it('refuses a unit or init script in a directory www-data owns: root reads and runs them', async () => {
    const dir = join(fx.tmp.path, 'www-etc');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, WWW_DATA, WWW_DATA);
    const service = { '--systemd-unit': [join(dir, 'pp.service'), '--unit-start-as', 'root'], '--init-script': [join(dir, 'pp')] };
    for (const [option, rest] of Object.entries(service)) {
      const copy = ['--save-path', join(fx.tmp.path, 'u.mjs'), '--save-owner', 'root:root', '--save-mode', '100'];
      const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', join(fx.tmp.path, 'u.pipe'), '--output', join(fx.tmp.path, 'u.log'), ...copy, option, ...rest]);
      expect(r.code, option).toBe(3);
      expect(r.stderr).toContain(`[CHAIN_OWNER]: ${option}: "${dir}" (owner 33:33, mode 755)`);
      expect(existsSync(join(fx.tmp.path, 'u.mjs'))).toBe(false);
    }
  });

  it('a copy whose directory was given to www-data after generation refuses to start, and a replaced copy is not run', async () => {
    const dir = join(fx.tmp.path, 'later');
    mkdirSync(dir, { mode: 0o755 });
    const paths = { dir, pipe: join(fx.tmp.path, 'l.pipe'), output: join(fx.tmp.path, 'l.log'), copy: join(dir, 'l.mjs') };
    const gen = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', paths.pipe, '--output', paths.output, '--save-path', paths.copy, '--save-owner', 'root:root', '--save-mode', '500']);
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    // Sound: it runs (--version does not start the pipe).
    expect((await run(paths.copy, ['--version'])).code).toBe(0);

    chownSync(dir, WWW_DATA, WWW_DATA);
    const r = await run(paths.copy, []);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[COPY_UNSAFE\]: refusing to start: this copy: ".*later" \(owner 33:33, mode 755\) is owned by uid 33/);
    expect(existsSync(paths.pipe)).toBe(false);
    expect(existsSync(paths.output)).toBe(false);

    // Given back to root but left group-writable: refused as well.
    chownSync(dir, 0, 0);
    chmodSync(dir, 0o775);
    const gw = await run(paths.copy, []);
    expect(gw.code).toBe(3);
    expect(gw.stderr).toMatch(/\[COPY_UNSAFE\].*writable by its group or by others/);
    chmodSync(dir, 0o755);

    // Moved into a directory www-data owns (where www-data could swap it at will): refused.
    const wwwDir = join(fx.tmp.path, 'www-dir');
    mkdirSync(wwwDir, { mode: 0o755 });
    chownSync(wwwDir, WWW_DATA, WWW_DATA);
    const moved = join(wwwDir, 'moved.mjs');
    renameSync(paths.copy, moved);
    const mv = await run(moved, []);
    expect(mv.code).toBe(3);
    expect(mv.stderr).toMatch(/\[COPY_UNSAFE\]/);
  });
});
