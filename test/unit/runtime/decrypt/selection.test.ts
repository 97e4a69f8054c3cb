import { describe, expect, it } from 'vitest';
import { linesOf, selectsBlock, selectsLine, SELECT_ALL } from '../../../../runtime/decrypt/selection.ts';

const meta = { streamId: 'abcdef0123456789abcdef0123456789', seq: 3, kind: 'data' as const };

describe('selection', () => {
  it('splits a block into lines, keeping a last line without newline', () => {
    expect([...linesOf(Buffer.from('a\n\nb\nc'))].map((l) => [l.bytes.toString(), l.newline])).toEqual([
      ['a', true],
      ['', true],
      ['b', true],
      ['c', false],
    ]);
    expect([...linesOf(Buffer.alloc(0))]).toEqual([]);
  });

  it('keeps a line matching any --grep and no --ignore; anchors apply to the line', () => {
    const s = { ...SELECT_ALL, grep: [/^GET /, /POST/], ignore: [/health$/] };
    expect(selectsLine(s, Buffer.from('GET /index'))).toBe(true);
    expect(selectsLine(s, Buffer.from('x POST y'))).toBe(true);
    expect(selectsLine(s, Buffer.from('GET /health'))).toBe(false);
    expect(selectsLine(s, Buffer.from('PUT /x'))).toBe(false);
    expect(selectsLine(SELECT_ALL, Buffer.from([0xff]))).toBe(true);
  });

  it('selects blocks by seal time (since inclusive, until exclusive), stream prefix and host', () => {
    const s = { ...SELECT_ALL, since: new Date('2026-11-24T02:00:00Z'), until: new Date('2026-11-24T03:00:00Z') };
    expect(selectsBlock(s, meta, new Date('2026-11-24T02:00:00Z'), null)).toBe(true);
    expect(selectsBlock(s, meta, new Date('2026-11-24T02:59:59Z'), null)).toBe(true);
    expect(selectsBlock(s, meta, new Date('2026-11-24T03:00:00Z'), null)).toBe(false);
    expect(selectsBlock(s, meta, new Date('2026-11-24T01:59:59Z'), null)).toBe(false);
    expect(selectsBlock(s, meta, null, null)).toBe(false);
    expect(selectsBlock({ ...SELECT_ALL, streams: ['abcd'] }, meta, null, null)).toBe(true);
    expect(selectsBlock({ ...SELECT_ALL, streams: ['abce'] }, meta, null, null)).toBe(false);
    expect(selectsBlock({ ...SELECT_ALL, streams: ['abcd'] }, null, null, null)).toBe(false);
    expect(selectsBlock({ ...SELECT_ALL, hosts: ['WWW1'] }, meta, null, 'www1')).toBe(true);
    expect(selectsBlock({ ...SELECT_ALL, hosts: ['www1'] }, meta, null, null)).toBe(false);
  });

  it('--source selects by id, by the path its source-start named, or the pipe (blocks without a source)', () => {
    const meta = { streamId: 'ab'.repeat(16), seq: 1, kind: 'data' as const };
    const file = { id: 'f1', path: '/var/log/app.log' };
    const pipe = { id: null, path: null };
    const by = (sources: string[]) => ({ ...SELECT_ALL, sources });
    expect(selectsBlock(by(['f1']), meta, null, null, file)).toBe(true);
    expect(selectsBlock(by(['/var/log/app.log']), meta, null, null, file)).toBe(true);
    expect(selectsBlock(by(['f2', '/var/log/other.log']), meta, null, null, file)).toBe(false);
    expect(selectsBlock(by(['pipe']), meta, null, null, file)).toBe(false);
    expect(selectsBlock(by(['pipe']), meta, null, null, pipe)).toBe(true);
    expect(selectsBlock(by(['f1']), meta, null, null, pipe)).toBe(false);
    // Another tool's block belongs to no source of ours.
    expect(selectsBlock(by(['pipe']), null, null, null, pipe)).toBe(false);
    expect(selectsBlock(SELECT_ALL, meta, null, null, file)).toBe(true);
  });
});
