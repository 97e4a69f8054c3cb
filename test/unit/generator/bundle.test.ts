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

  it('reaches the packages a copy may leave out only through the lazy imports runtime/copy-packages.ts accounts for', async () => {
    const unused = ['openpgp', 'nodemailer', '@nats-io/transport-node', '@nats-io/jetstream'];
    const lines = (await bundleCopy(entry, '/usr/bin/node', unused)).toString('utf8').split('\n');
    // esbuild heads each module with a `// path` comment and wraps a lazily evaluated one in an init function.
    let current = '';
    const moduleAt = lines.map((line) => (current = /^\/\/ ((?:left-out:)?\S+)$/.exec(line)?.[1] ?? current));
    const initOf = new Map<string, string>();
    lines.forEach((line, i) => {
      const m = /^var (\w+) = __(?:esm|commonJS)\(\{$/.exec(line);
      if (m) initOf.set(moduleAt[i] as string, m[1] as string);
    });
    /** The modules whose dynamic import() leads to evaluating `init`; "(eager)" where a module evaluated at start would. */
    const lazyImporters = (init: string, seen: Set<string>): string[] =>
      lines.flatMap((line, i) => {
        if (!line.includes(`${init}()`) || line.startsWith('var ')) return [];
        const mod = moduleAt[i] as string;
        if (line.includes('Promise.resolve().then(')) return [mod];
        const outer = initOf.get(mod);
        if (outer === undefined) return [`${mod} (eager)`];
        if (seen.has(outer)) return [];
        seen.add(outer);
        return lazyImporters(outer, seen);
      });
    const reached = Object.fromEntries(unused.map((name) => [name, [...new Set(lazyImporters(initOf.get(`left-out:${name}`) as string, new Set()))].sort()]));
    // Each is evaluated only under the options that keep the package in the bundle: a new one
    // here needs its option in packagesUnused, or a copy would throw when it first gets there.
    expect(reached).toEqual({
      // rotation (the archive keys, at start), --report-every, keys without native sealing facts
      openpgp: ['runtime/copy.ts', 'runtime/report/reporter.ts', 'runtime/rotation/archive.ts', 'runtime/seal/recipient-keys.ts'],
      // rotation's encrypted-email, --report-every (loaded at start by runtime/copy.ts)
      nodemailer: ['runtime/rotation/mail.ts'],
      // --forward nats://
      '@nats-io/transport-node': ['runtime/sinks/forward/setup.ts'],
      '@nats-io/jetstream': ['runtime/sinks/forward/setup.ts'],
    });
  }, 60_000);
});
