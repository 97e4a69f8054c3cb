import type { SystemPort } from '../../generator/system.ts';

/** A host with a few known users and groups, and a keyring given as a map. */
export function fakeSystem(keyring: Record<string, Buffer> = {}, uid = 0): SystemPort {
  const passwd: Record<string, string> = {
    root: 'root:x:0:0:root:/root:/bin/sh',
    'www-data': 'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin',
    pplog: 'pplog:x:990:990::/nonexistent:/usr/sbin/nologin',
  };
  const groups: Record<string, string> = { root: 'root:x:0:', 'www-data': 'www-data:x:33:', adm: 'adm:x:4:', pplog: 'pplog:x:990:' };
  return {
    // Like getent: by name, or by numeric id.
    getent: async (db, key) => {
      const table = db === 'passwd' ? passwd : groups;
      return table[key] ?? Object.values(table).find((line) => line.split(':')[2] === key) ?? null;
    },
    groupsOf: async (user) => (user === 'pplog' ? [990, 4] : [Number(passwd[user]?.split(':')[3] ?? 0)]),
    gpgExport: async (who) => keyring[who] ?? Buffer.alloc(0),
    uid,
    gid: uid,
  };
}
