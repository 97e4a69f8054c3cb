import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

describe('paranoid-pipes demo', () => {
  it('runs the whole flow, decrypts every line and verifies every seal (exit 0)', async () => {
    const r = await cli(['demo']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/verified: \d+ blocks in 1 stream\(s\)/);
    expect(r.stdout.toString()).toMatch(/OK: all \d+ lines came back exactly, after the header, and every seal verified/);
  });
});
