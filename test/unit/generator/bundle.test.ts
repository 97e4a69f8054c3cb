import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleCopy } from '../../../generator/bundle.ts';
import { isOneByte, oneByteSource } from '../../../generator/one-byte-source.ts';

describe('oneByteSource', () => {
  it('escapes every character above U+00FF and leaves Latin-1 alone', () => {
    expect(oneByteSource('a — µs → 𝑛')).toBe('a \\u2014 µs \\u2192 \\ud835\\udc5b');
    expect(isOneByte(oneByteSource('— … 𝑊 ü'))).toBe(true);
    expect(isOneByte('µ ü')).toBe(true);
    expect(isOneByte('—')).toBe(false);
  });

  it('keeps what the code means: strings, templates, regular expressions (with and without u), identifiers, comments', () => {
    const code = [
      '/** f1, f2, … for files — ok */',
      'const ñ = 1; const 変数 = 2;',
      'const s = "a—b" + `t→${ñ + 変数}`;',
      'const r1 = /^[—–]+𝑛$/.test("—–𝑛");',
      'const r2 = /^[𝑛𝑊]$/u.test("𝑊");',
      'const r3 = /^.$/u.test("𝑛");',
      'return [s, r1, r2, r3, "𝑛".length];',
    ].join('\n');
    const escaped = oneByteSource(code);
    expect(isOneByte(escaped)).toBe(true);
    expect(new Function(escaped)()).toEqual(new Function(code)());
    expect(new Function(escaped)()).toEqual(['a—bt→3', true, true, true, 2]);
  });
});

describe('bundleCopy', () => {
  const entry = "import { runCopy } from '@paranoid-pipes/runtime';\nconsole.log(typeof runCopy);\n";

  it('writes a copy that V8 stores as a one-byte string', async () => {
    const bytes = await bundleCopy(entry, '/usr/bin/node');
    expect(isOneByte(bytes.toString('utf8'))).toBe(true);
  }, 60_000);

  it('leaves out the packages it is told to: they are a stub that throws, naming the package, if ever evaluated', async () => {
    const unused = ['openpgp', 'nodemailer', '@nats-io/transport-node', '@nats-io/jetstream'];
    const full = (await bundleCopy(entry, '/usr/bin/node')).toString('utf8');
    const lean = (await bundleCopy(entry, '/usr/bin/node', unused)).toString('utf8');
    expect(full).toContain('// node_modules/openpgp/');
    expect(full).toContain('from "node:https"');
    for (const marker of ['// node_modules/openpgp/', '// node_modules/nodemailer/', '// node_modules/@nats-io/', 'from "node:https"']) expect(lean).not.toContain(marker);
    expect(lean.length).toBeLessThan(full.length / 4);

    const dir = mkdtempSync(join(tmpdir(), 'pp-bundle-'));
    try {
      const script = join(dir, 'stub.mjs');
      writeFileSync(script, await bundleCopy("const m = await import('nodemailer');\nconsole.log(typeof m);\n", process.execPath, ['nodemailer']));
      const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('nodemailer was left out of this copy');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
