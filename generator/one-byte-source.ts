/**
 * V8 keeps a script's source in its heap for the life of the process (lazy compilation and
 * `Function.prototype.toString` read it), as a one-byte string when every character is Latin-1
 * and as a two-byte string otherwise. esbuild escapes non-ASCII characters in the code it
 * writes, but not in the comments it keeps (JSDoc on class members, from our sources and from
 * dependencies): one em dash in one comment doubled the copy's 1.9 MB source to 3.8 MB of heap.
 *
 * Every character above U+00FF becomes a `\uXXXX` escape (astral ones as two, one per UTF-16
 * unit). In a comment that is only text; in a string, template or regular expression literal
 * and in an identifier, esbuild has escaped them already, and where it has not, `\uXXXX` means
 * the same character there (a surrogate pair of escapes is one code point in a `u` regex too).
 */
export function oneByteSource(source: string): string {
  return source.replace(/[^\u0000-\u00ff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether V8 can store `source` as a one-byte string. */
export function isOneByte(source: string): boolean {
  return /^[\u0000-\u00ff]*$/.test(source);
}
