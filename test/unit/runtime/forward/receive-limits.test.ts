import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receive, RECEIVE_LIMITS } from '../../../../runtime/receive/receive.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-receive-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('receive: bytes that never become a message', () => {
  it('ends the connection once more than a message can hold is pending, instead of buffering without end', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x41); // no message can start in it
    const limitChunks = Math.ceil(RECEIVE_LIMITS.maxPendingBytes / chunk.length);
    let taken = 0;
    async function* sender() {
      // A sender with a stolen key could go on for ever; this one stops at twice the limit.
      for (; taken < limitChunks * 2; ) {
        taken += 1;
        yield chunk;
      }
    }
    const err: string[] = [];
    const out: string[] = [];
    const output = join(dir, 'www.log.asc');
    const r = await receive(output, 0o640, { stdin: sender(), out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(taken).toBeLessThanOrEqual(limitChunks + 1);
    expect(r.received).toBe(0);
    expect(r.refusedBytes).toBeGreaterThan(RECEIVE_LIMITS.maxPendingBytes);
    expect(err.join('')).toMatch(/refused \d+ bytes that hold no whole OpenPGP message .*ending the connection/);
    expect(readFileSync(output).length).toBe(0);
  }, 60_000);
});
