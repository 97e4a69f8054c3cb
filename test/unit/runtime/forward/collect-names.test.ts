import { describe, expect, it } from 'vitest';
import { safeName, streamNameOf } from '../../../../runtime/receive/collect.ts';

describe('collect: names from headers a host sends', () => {
  it('become one harmless path component', () => {
    expect(safeName('www1.example.org', 'x')).toBe('www1.example.org');
    expect(safeName('../../etc/passwd', 'x')).toBe('__.._etc_passwd');
    expect(safeName('..', 'x')).toBe('_');
    expect(safeName('.hidden', 'x')).toBe('_hidden');
    expect(safeName('a/b\0c d', 'x')).toBe('a_b_c_d');
    expect(safeName('', 'unknown-host')).toBe('unknown-host');
    expect(safeName('h'.repeat(300), 'x')).toHaveLength(128);
  });

  it('a stream is named after its subject', () => {
    expect(streamNameOf('logs.www')).toBe('LOGS_WWW');
  });
});
