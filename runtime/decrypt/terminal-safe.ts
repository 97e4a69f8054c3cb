/**
 * Logged bytes come from whoever can write into the pipe. Printed raw on a terminal, escape
 * sequences act on it: set the title, write the clipboard (OSC 52), move the cursor or erase a
 * line to hide the lines around them. So when the text goes to a terminal, what a terminal
 * would act on is shown escaped instead, as journalctl and less do:
 *
 * - C0 controls except newline and tab, and DEL: `\xHH` (ESC is `\x1b`, CR `\x0d`);
 * - C1 controls (U+0080–U+009F, which some terminals take as CSI, OSC…): `\u{HH}`;
 * - Unicode format characters that reorder or hide text (bidi overrides and isolates, zero-width
 *   characters): `\u{HHHH}`;
 * - bytes that are not UTF-8: `\xHH` (a terminal may read them as 8-bit controls);
 * - a backslash is left alone (the output is for eyes; `--raw` or a file gives exact bytes).
 */
export function escapeForTerminal(block: Buffer): Buffer | null {
  if (!needsEscaping(block)) return null;
  let out = '';
  let plainFrom = 0;
  const flush = (to: number) => {
    if (to > plainFrom) out += block.toString('utf8', plainFrom, to);
  };
  let i = 0;
  while (i < block.length) {
    const b = block[i] as number;
    if (b < 0x80) {
      if ((b < 0x20 && b !== 0x0a && b !== 0x09) || b === 0x7f) {
        flush(i);
        out += `\\x${hex(b)}`;
        plainFrom = i + 1;
      }
      i += 1;
      continue;
    }
    const cp = utf8At(block, i);
    if (cp === null) {
      flush(i);
      out += `\\x${hex(b)}`;
      i += 1;
      plainFrom = i;
      continue;
    }
    if (isHiddenCodePoint(cp.value)) {
      flush(i);
      out += `\\u{${cp.value.toString(16).padStart(cp.value > 0xff ? 4 : 2, '0')}}`;
      plainFrom = i + cp.length;
    }
    i += cp.length;
  }
  flush(block.length);
  return Buffer.from(out, 'utf8');
}

/** Cheap scan: most log blocks are printable ASCII and need no work at all. */
function needsEscaping(block: Buffer): boolean {
  for (let i = 0; i < block.length; i += 1) {
    const b = block[i] as number;
    if (b >= 0x80 || b === 0x7f || (b < 0x20 && b !== 0x0a && b !== 0x09)) return true;
  }
  return false;
}

const hex = (b: number) => b.toString(16).padStart(2, '0');

function isHiddenCodePoint(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) || // C1 controls
    (cp >= 0x200b && cp <= 0x200f) || // zero-width space/joiners, LRM, RLM
    (cp >= 0x2028 && cp <= 0x202e) || // line/paragraph separators, bidi embeddings and overrides
    (cp >= 0x2060 && cp <= 0x2069) || // word joiner, invisible operators, bidi isolates
    cp === 0xfeff // zero-width no-break space
  );
}

/** The well-formed UTF-8 sequence at `i` (no overlongs, surrogates or values past U+10FFFF), or null. */
function utf8At(buf: Buffer, i: number): { value: number; length: number } | null {
  const b0 = buf[i] as number;
  const length = b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 0;
  if (length === 0 || i + length > buf.length) return null;
  let value = b0 & (0xff >> (length + 1));
  for (let k = 1; k < length; k += 1) {
    const b = buf[i + k] as number;
    if ((b & 0xc0) !== 0x80) return null;
    value = (value << 6) | (b & 0x3f);
  }
  const min = [0, 0, 0x80, 0x800, 0x10000][length] as number;
  if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return null;
  return { value, length };
}
