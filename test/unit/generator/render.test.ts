import { describe, expect, it } from 'vitest';
import { compileTemplate, renderCopyEntry, toJsLiteral } from '../../../generator/render.ts';
import type { BakedOptions } from '../../../runtime/baked.ts';

const owner = { uid: 990, gid: 4, label: 'pplog:adm' };
const baked: BakedOptions = {
  format: 1,
  copyVersion: '0.1.0',
  generatedAt: '2026-11-22T00:00:00.000Z',
  recipients: [{ fingerprint: 'ABCD', userIds: ['Admin <admin@example.org>'], armoredKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n' }],
  pipe: { path: '/run/paranoid-pipes/www.pipe', owner, mode: 0o620 },
  output: { path: '/var/log/paranoid-pipes/www.log.asc', owner, mode: 0o640 },
  runAs: { ...owner, groups: [990, 4] },
  compress: 'zlib',
  armor: true,
  sessionKeyWindowMs: 60_000,
  quitString: 'stop-7f3a9c2e1b',
  header: ['# vhost www.example.org'],
  logLevel: 'info',
  overload: { maxBufferBytes: 8 * 1024 * 1024, policy: 'block' },
  heartbeatMs: null,
  rotation: null,
  saveOwner: { uid: 0, gid: 990, label: 'root:pplog' },
};

/** Evaluates the BAKED literal of a rendered entry, the way the copy would see it. */
function bakedOf(source: string): unknown {
  const literal = /const BAKED = Object\.freeze\(([\s\S]*)\);\n\nprocess\.exitCode/.exec(source)?.[1];
  if (literal === undefined) throw new Error('no BAKED literal in the rendered entry');
  return new Function(`return (${literal});`)();
}

describe('renderCopyEntry', () => {
  it('matches the reviewed golden entry', async () => {
    await expect(renderCopyEntry(baked)).toMatchFileSnapshot('../../golden/copy-entry.mjs');
  });

  it('keeps hostile values as data: quotes, backslashes, newlines, template syntax, U+2028', () => {
    const hostile = `x"; process.exit(9); //\\' \`\${1}\` {{js baked}} </script>\u2028\u2029\n`;
    const evil = { ...baked, quitString: hostile, header: [hostile], pipe: { ...baked.pipe!, path: `/run/${hostile}` } };
    const source = renderCopyEntry(evil);
    expect(bakedOf(source)).toEqual(evil);
    // Outside the data literal, the program is exactly what benign values give.
    const skeleton = (src: string) => src.replace(/Object\.freeze\([\s\S]*\);\n\nprocess/, 'Object.freeze(DATA);\n\nprocess');
    expect(skeleton(source)).toBe(skeleton(renderCopyEntry(baked)));
    expect(source.split('\n')).toHaveLength(renderCopyEntry(baked).split('\n').length);
  });

  it('escapes line separators that older engines took as line ends', () => {
    expect(toJsLiteral('a\u2028b')).toBe('"a\\u2028b"');
  });

  it('compiles in strict mode: a missing value is an error, not an empty string', () => {
    const template = compileTemplate('copy.mjs.hbs');
    expect(() => template({ baked })).toThrow(/not defined|cannot bake undefined/);
  });
});
