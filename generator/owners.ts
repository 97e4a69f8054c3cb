import type { Owner, RunAs } from '../runtime/baked.ts';
import { usageError } from '../runtime/errors.ts';
import type { SystemPort } from './system.ts';

const NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;
const ID = /^[0-9]{1,10}$/;

interface Account {
  readonly uid: number;
  readonly gid: number;
  readonly name: string | null;
}

/**
 * Resolves `USER:GROUP`, `USER` (their primary group) or numeric ids to an owner, at
 * generation time: the copy gets numbers and never looks names up itself.
 */
export async function resolveOwner(option: string, value: string, system: SystemPort): Promise<Owner> {
  const parts = value.split(':');
  if (parts.length > 2 || parts.some((p) => p === '' || !(NAME.test(p) || ID.test(p)))) {
    throw usageError('BAD_OWNER', `${option} must be USER:GROUP or USER (names or numeric ids), got ${JSON.stringify(value)}`);
  }
  const [user, group] = parts as [string, string | undefined];
  const account = await lookupUser(option, user, system);
  const gid = group === undefined ? account.gid : await lookupGroup(option, group, system);
  return { uid: account.uid, gid, label: value };
}

export async function resolveRunAs(option: string, value: string, system: SystemPort): Promise<RunAs> {
  const owner = await resolveOwner(option, value, system);
  const account = await lookupUser(option, value.split(':')[0] as string, system);
  // Supplementary groups only exist for named users; a bare uid gets just its gid.
  const groups = account.name === null ? [owner.gid] : await system.groupsOf(account.name);
  if (!groups.includes(owner.gid)) groups.unshift(owner.gid);
  return { ...owner, groups };
}

export function ownerOfIds(uid: number, gid: number): Owner {
  return { uid, gid, label: `${uid}:${gid}` };
}

async function lookupUser(option: string, user: string, system: SystemPort): Promise<Account> {
  const line = await system.getent('passwd', user);
  if (line !== null) {
    const [name, , uid, gid] = line.split(':');
    return { name: name ?? user, uid: Number(uid), gid: Number(gid) };
  }
  if (ID.test(user)) return { name: null, uid: Number(user), gid: Number(user) };
  throw usageError('UNKNOWN_USER', `${option}: no user ${JSON.stringify(user)} on this host (getent passwd found nothing)`);
}

async function lookupGroup(option: string, group: string, system: SystemPort): Promise<number> {
  const line = await system.getent('group', group);
  if (line !== null) return Number(line.split(':')[2]);
  if (ID.test(group)) return Number(group);
  throw usageError('UNKNOWN_GROUP', `${option}: no group ${JSON.stringify(group)} on this host (getent group found nothing)`);
}
