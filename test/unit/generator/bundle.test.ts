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

  it("imports node's modules where their importer is evaluated: the only top-level import is the banner's", async () => {
    const source = (await bundleCopy(entry, '/usr/bin/node')).toString('utf8');
    expect(source.match(/^import .*$/gm)).toEqual(["import { createRequire as __ppCreateRequire } from 'node:module';"]);
    // nodemailer's http and https are bundled as shims, required only when a mailer is made.
    expect(source).toContain('__ppRequire("node:https")');
  }, 60_000);
});
