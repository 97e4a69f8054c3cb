import { describe, expect, it } from 'vitest';
import { JsonTextError, parseJsonText } from '../../../generator/json-text.ts';

describe('parseJsonText', () => {
  it('reads what JSON.parse reads', () => {
    const text = '\uFEFF{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"], "b": {"c": {}}, "d": []}';
    expect(parseJsonText(text)).toEqual(JSON.parse(text.slice(1)));
  });

  it.each([
    ['{"a": 1,}', 1, 9, /a key in double quotes was expected/],
    ['{"a": 1}\n  x', 2, 3, /unexpected text after the end/],
    ['{"a": "open\n}', 1, 7, /a string is not closed on its line/],
    ['{"a": tru}', 1, 7, /a value was expected/],
    ['{"a": "\\q"}', 1, 7, /bad escape/],
    ['{"a": "tab\there"}', 1, 11, /control characters must be escaped/],
    ['', 1, 1, /unexpected end of file/],
    ['{"a": 1, "b": 2, "a": 3}', 1, 18, /key "a" appears twice/],
    ['['.repeat(100), 1, 66, /nested more than 64 levels/],
  ])('%j: line %i, column %i', (text, line, column, message) => {
    let err: unknown;
    try {
      parseJsonText(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonTextError);
    expect(err).toMatchObject({ line, column });
    expect((err as Error).message).toMatch(message);
  });

  it('a key named like an Object property is just a key', () => {
    expect(Object.keys(parseJsonText('{"__proto__": 1, "constructor": 2}') as object)).toEqual(['__proto__', 'constructor']);
  });
});
