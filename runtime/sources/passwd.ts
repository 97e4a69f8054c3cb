import { readFileSync } from 'node:fs';

/**
 * The name of a uid from /etc/passwd, for a session's header; null when it has none there (a
 * directory service the copy does not ask). The uid itself is what identifies the user.
 */
export function userName(uid: number): string | null {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name !== undefined && id !== undefined && Number(id) === uid && /^[A-Za-z0-9_.-]+\$?$/.test(name)) return name;
  }
  return null;
}
