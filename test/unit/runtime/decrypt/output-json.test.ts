import { describe, expect, it } from 'vitest';
import { jsonPresenter } from '../../../../runtime/decrypt/output-json.ts';
import { SELECT_ALL } from '../../../../runtime/decrypt/selection.ts';

const ctx = {
  meta: { streamId: 'ab'.repeat(16), seq: 7, kind: 'data' as const },
  info: { source: 'log', offset: 0, date: new Date('2026-11-24T02:13:07Z') },
  host: 'www1',
};

async function render(block: Buffer): Promise<string> {
  let out = '';
  await jsonPresenter(async (b) => void (out += Buffer.from(b).toString('utf8')), SELECT_ALL).data(block, ctx);
  return out;
}

describe('jsonPresenter', () => {
  it('one object per line with the block fields; a last line without newline is flagged', async () => {
    const out = await render(Buffer.from('a "q"\n\nlast'));
    expect(out.split('\n').slice(0, -1).map((l) => JSON.parse(l))).toEqual([
      { v: 1, kind: 'line', time: '2026-11-24T02:13:07.000Z', host: 'www1', stream: 'ab'.repeat(16), seq: 7, line: 'a "q"' },
      { v: 1, kind: 'line', time: '2026-11-24T02:13:07.000Z', host: 'www1', stream: 'ab'.repeat(16), seq: 7, line: '' },
      { v: 1, kind: 'line', time: '2026-11-24T02:13:07.000Z', host: 'www1', stream: 'ab'.repeat(16), seq: 7, line: 'last', newline: false },
    ]);
  });

  it('escapes every character a terminal could act on, and the JSON still decodes to the line', async () => {
    const line = '\x1b[2J \u009b31m \u202eevil \u200b \u2028';
    const out = await render(Buffer.from(`${line}\n`));
    expect(out.trimEnd()).not.toMatch(/[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/);
    expect(out).toContain('\\u001b[2J \\u009b31m \\u202eevil \\u200b \\u2028');
    expect((JSON.parse(out) as { line: string }).line).toBe(line);
  });

  it('bytes that are not UTF-8: base64 with "encoding"', async () => {
    const out = JSON.parse(await render(Buffer.from([0x62, 0xff, 0x0a]))) as { line: string; encoding: string };
    expect(out.encoding).toBe('base64');
    expect(Buffer.from(out.line, 'base64')).toEqual(Buffer.from([0x62, 0xff]));
  });

  it('names the source of a watched file\'s or session\'s lines; pipe lines carry no source field', async () => {
    let out = '';
    await jsonPresenter(async (b) => void (out += Buffer.from(b).toString('utf8')), SELECT_ALL).data(Buffer.from('x\n'), { ...ctx, source: 'f1' });
    expect(JSON.parse(out)).toMatchObject({ kind: 'line', source: 'f1', line: 'x' });
    expect(JSON.parse(await render(Buffer.from('y\n')))).not.toHaveProperty('source');
  });
});
