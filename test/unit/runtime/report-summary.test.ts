import { describe, expect, it } from 'vitest';
import { reportText, TOP_PATTERNS, type ReportFacts } from '../../../runtime/report/summary.ts';

const facts: ReportFacts = {
  host: 'www1',
  streamId: 'ab'.repeat(16),
  from: '2026-12-02T00:00:00.000Z',
  to: '2026-12-03T00:00:00.000Z',
  written: { lines: 123456, bytes: 9_876_543 },
  keptBySource: [{ source: '/run/pp/www.pipe', lines: 123456 }],
  filtered: { lines: 70, bytes: 7000 },
  topPatterns: Array.from({ length: 12 }, (_, i) => ({ kind: 'ignore', pattern: `p${i}`, lines: 12 - i, bytes: 100 })),
  monitorChanges: [{ kind: 'change', change: 'changed', path: '/etc/x', before: null, after: { path: '/etc/x', sha256: 'ff', size: 1, mode: 0o644, uid: 0, gid: 0, mtime: '' } }],
  monitorChangeCount: 3,
  overloadDropped: { lines: 0, bytes: 0 },
  errors: { APPEND_FAILED: 2 },
};

describe('reportText', () => {
  it('says every number for a human and the same facts as JSON on its last line, top patterns bounded', () => {
    const text = reportText(facts);
    expect(text).toContain('written to the encrypted log since start: 123,456 lines, 9,876,543 bytes');
    expect(text).toContain('  /run/pp/www.pipe: 123,456');
    expect(text).toContain('filtered since start: 70 lines, 7,000 bytes');
    expect(text.match(/^ {2}--ignore /gm)).toHaveLength(TOP_PATTERNS);
    expect(text).toContain('  changed /etc/x sha256 ff');
    expect(text).toContain('… and 2 more');
    expect(text).toContain('errors since start: APPEND_FAILED ×2');
    const json = JSON.parse(/^summary: (.*)$/m.exec(text)![1]!) as ReportFacts;
    expect(json.topPatterns).toHaveLength(TOP_PATTERNS);
    expect(json.written).toEqual(facts.written);
  });

  it('leaves out what is not configured', () => {
    const text = reportText({ ...facts, keptBySource: null, monitorChanges: null, monitorChangeCount: 0, topPatterns: [], errors: {} });
    expect(text).not.toContain('kept per source');
    expect(text).not.toContain('monitored');
    expect(text).toContain('errors since start: none');
  });
});
