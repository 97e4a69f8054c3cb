import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import tmp from 'tmp';
import { afterEach, describe, expect, it } from 'vitest';
import { drainNow } from '../../../runtime/fifo.ts';

describe('drainNow: what is in a real FIFO, taken without waiting', () => {
  let cleanup: (() => void) | null = null;
  afterEach(() => cleanup?.());

  function fifoWith(bytes: Buffer): number {
    const dir = tmp.dirSync({ unsafeCleanup: true });
    const path = join(dir.name, 'p');
    execFileSync('mkfifo', ['-m', '600', path]);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    writeSync(fd, bytes);
    cleanup = () => {
      closeSync(fd);
      dir.removeCallback();
    };
    return fd;
  }

  it('takes at most maxBytes, and the rest on the next call, in order', () => {
    const data = Buffer.alloc(60 * 1024, 'abcdefghij');
    const fd = fifoWith(data);
    const got: Buffer[] = [];
    expect(drainNow(fd, (chunk) => got.push(chunk), 10_000)).toBe(10_000);
    expect(Buffer.concat(got).length).toBe(10_000);
    expect(drainNow(fd, (chunk) => got.push(chunk))).toBe(data.length - 10_000);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(drainNow(fd, (chunk) => got.push(chunk))).toBe(0);
  });

  it('takes nothing with no room left', () => {
    const fd = fifoWith(Buffer.from('a line\n'));
    expect(drainNow(fd, () => {}, 0)).toBe(0);
    expect(drainNow(fd, () => {}, 100)).toBe(7);
  });
});
