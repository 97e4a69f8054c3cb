/**
 * Quotes one argument for a POSIX shell. Words made only of characters no shell treats specially
 * stay bare (readable output); everything else goes in single quotes, inside which a shell
 * interprets nothing, with each ' written as '\'' (close, escaped quote, reopen). Newlines inside
 * single quotes are literal too, so no value can end the command and start another.
 */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
