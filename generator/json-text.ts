/**
 * A strict JSON reader for config files. JSON.parse is not enough for a file an admin edits by
 * hand: on Node 20 it often names no position at all, and it silently keeps the last of two equal
 * keys (a second "quit-string" further down would win unnoticed). This one says where, as
 * line:column, and refuses duplicate keys.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class JsonTextError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'JsonTextError';
  }
}

/** Nesting this deep is no config file; bounded so a hostile file cannot blow the stack. */
const MAX_DEPTH = 64;

export function parseJsonText(text: string): JsonValue {
  const reader = new Reader(text.startsWith('\uFEFF') ? text.slice(1) : text);
  reader.space();
  const value = reader.value(0);
  reader.space();
  if (!reader.atEnd()) reader.fail('unexpected text after the end of the JSON value');
  return value;
}

class Reader {
  private pos = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  fail(message: string, at = this.pos): never {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    throw new JsonTextError(message, line, column);
  }

  space(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] as string)) this.pos += 1;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`);
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === undefined) this.fail('unexpected end of file: a value was expected');
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (m === null || m[0] === '' || m[0] === '-') this.fail(`unexpected ${describe(c)}: a value was expected (strings need double quotes)`);
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private object(depth: number): JsonValue {
    const out: { [key: string]: JsonValue } = Object.create(null) as { [key: string]: JsonValue };
    this.pos += 1;
    this.space();
    if (this.eat('}')) return out;
    for (;;) {
      this.space();
      const keyAt = this.pos;
      if (this.text[this.pos] !== '"') this.fail(`unexpected ${describe(this.text[this.pos])}: a key in double quotes was expected`);
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) this.fail(`key ${JSON.stringify(key)} appears twice`, keyAt);
      this.space();
      if (!this.eat(':')) this.fail(`unexpected ${describe(this.text[this.pos])}: ':' was expected after the key`);
      this.space();
      out[key] = this.value(depth + 1);
      this.space();
      if (this.eat('}')) return out;
      if (!this.eat(',')) this.fail(`unexpected ${describe(this.text[this.pos])}: ',' or '}' was expected`);
    }
  }

  private array(depth: number): JsonValue {
    const out: JsonValue[] = [];
    this.pos += 1;
    this.space();
    if (this.eat(']')) return out;
    for (;;) {
      this.space();
      out.push(this.value(depth + 1));
      this.space();
      if (this.eat(']')) return out;
      if (!this.eat(',')) this.fail(`unexpected ${describe(this.text[this.pos])}: ',' or ']' was expected`);
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos += 1;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') this.fail('a string is not closed on its line', start);
      if (c === '"') break;
      if (c < ' ') this.fail('control characters must be escaped inside strings');
      this.pos += c === '\\' ? 2 : 1;
    }
    this.pos += 1;
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string;
    } catch {
      return this.fail('a bad escape sequence in this string', start);
    }
  }

  private eat(c: string): boolean {
    if (this.text[this.pos] !== c) return false;
    this.pos += 1;
    return true;
  }
}

function describe(c: string | undefined): string {
  return c === undefined ? 'end of file' : `character ${JSON.stringify(c)}`;
}
