import { describe, expect, it } from 'vitest';
import { escapeForTerminal } from '../../../../runtime/decrypt/terminal-safe.ts';

const shown = (bytes: Buffer | string) => escapeForTerminal(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes))?.toString('utf8') ?? null;

describe('escapeForTerminal', () => {
  it('leaves printable text, tabs, newlines and UTF-8 alone (null: nothing to do)', () => {
    expect(shown('GET /index.html 200\tok\n')).toBe(null);
    expect(shown('café ✓ 日本\n')).toBe('café ✓ 日本\n');
  });

  it('shows what a terminal would act on: escape sequences, CR, DEL, C1 controls, bidi and zero-width characters', () => {
    expect(shown('\x1b]0;owned\x07title\n')).toBe('\\x1b]0;owned\\x07title\n');
    expect(shown('\x1b]52;c;ZXZpbA==\x07\n')).toBe('\\x1b]52;c;ZXZpbA==\\x07\n');
    expect(shown('hidden\r\x1b[2Kvisible\n')).toBe('hidden\\x0d\\x1b[2Kvisible\n');
    expect(shown('a\x7fb\x00c\n')).toBe('a\\x7fb\\x00c\n');
    expect(shown('x\u009b31my\n')).toBe('x\\u{9b}31my\n');
    expect(shown('user=\u202eevil\u2066 \u200bz\ufeff\n')).toBe('user=\\u{202e}evil\\u{2066} \\u{200b}z\\u{feff}\n');
  });

  it('shows bytes that are not UTF-8 (lone, overlong, surrogate, cut short) as \\xHH', () => {
    expect(shown(Buffer.from([0x61, 0xff, 0x62, 0x0a]))).toBe('a\\xffb\n');
    expect(shown(Buffer.from([0xc0, 0xaf]))).toBe('\\xc0\\xaf');
    expect(shown(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80');
    expect(shown(Buffer.from([0x41, 0xe2, 0x82]))).toBe('A\\xe2\\x82');
    expect(shown(Buffer.from([0x9b, 0x32, 0x4a]))).toBe('\\x9b2J');
  });
});
