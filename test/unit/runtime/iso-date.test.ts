import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

const MODULE = transformSync(readFileSync(new URL('../../../runtime/iso-date.ts', import.meta.url), 'utf8'), { loader: 'ts', format: 'esm' }).code;

// Run in a child: the copy replaces the method on its own Date.prototype, and this process's
// tests must keep the builtin to compare with.
const SCRIPT = `
const builtin = Date.prototype.toISOString;
const { isoDatesFromUtcFields } = await import('data:text/javascript,' + encodeURIComponent(${JSON.stringify(MODULE)}));
isoDatesFromUtcFields();
const ours = Date.prototype.toISOString;
const out = { same: 0, differ: [], errors: [] };
const times = [0, -1, 1, 999, -62198755200000, -62198755200001, 253402300799999, 253402300800000, 8.64e15, -8.64e15, Date.now()];
for (let i = 0; i < 20000; i += 1) times.push(Math.round((Math.random() * 2 - 1) * 8.64e15), Math.round(Math.random() * 4e12));
for (const t of times) {
  const a = builtin.call(new Date(t));
  const b = new Date(t).toISOString();
  if (a === b) out.same += 1; else out.differ.push([t, a, b]);
}
for (const bad of [new Date(NaN), {}, 'x']) {
  let e1, e2;
  try { builtin.call(bad); } catch (e) { e1 = e.constructor.name; }
  try { ours.call(bad); } catch (e) { e2 = e.constructor.name; }
  out.errors.push([e1, e2]);
}
out.json = JSON.stringify({ d: new Date(1764658800123) });
const d = Object.getOwnPropertyDescriptor(Date.prototype, 'toISOString');
out.attrs = [d.writable, d.enumerable, d.configurable, ours.name, ours.length];
console.log(JSON.stringify(out));
`;

describe('isoDatesFromUtcFields', () => {
  it("gives the builtin's string for every date, its errors for invalid ones, and its property attributes", () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { encoding: 'utf8', env: { ...process.env, TZ: 'America/St_Johns' } });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(out.differ).toEqual([]);
    expect(out.same).toBe(40011);
    expect(out.errors).toEqual([
      ['RangeError', 'RangeError'],
      ['TypeError', 'TypeError'],
      ['TypeError', 'TypeError'],
    ]);
    expect(out.json).toBe('{"d":"2025-12-02T07:00:00.123Z"}');
    expect(out.attrs).toEqual([true, false, true, 'toISOString', 0]);
  });
});
