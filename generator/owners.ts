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
  const { gid, name: groupName } = group === undefined ? await nameGroup(account.gid, system) : await lookupGroup(option, group, system);
  return { uid: account.uid, gid, label: ownerLabel(account.uid, account.name, gid, groupName) };
}

/**
 * An owner given by ids (the generator's own user by default), named like any other: `0:0`
 * reads `root:root` in the dry run and in the copy's messages.
 */
export async function ownerOfIds(uid: number, gid: number, system: SystemPort): Promise<Owner> {
  const user = await lookupUser('', String(uid), system);
  const group = await nameGroup(gid, system);
  return { uid, gid, label: ownerLabel(uid, user.name, gid, group.name) };
}

/** Group names of `gids` that have one, for the dry run's list of run-as groups. */
export async function groupNames(gids: readonly number[], system: SystemPort): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const gid of new Set(gids)) {
    const { name } = await nameGroup(gid, system);
    if (name !== null) names.set(gid, name);
  }
  return names;
}

/**
 * `user:group` by name, resolved at generation: the copy gets it baked for its messages and
 * never looks names up itself. An id without a name on this host stays a number.
 */
function ownerLabel(uid: number, user: string | null, gid: number, group: string | null): string {
  return `${user ?? uid}:${group ?? gid}`;
}

export async function resolveRunAs(option: string, value: string, system: SystemPort): Promise<RunAs> {
  const owner = await resolveOwner(option, value, system);
  const account = await lookupUser(option, value.split(':')[0] as string, system);
  // Supplementary groups only exist for named users; a bare uid gets just its gid.
  const groups = account.name === null ? [owner.gid] : await system.groupsOf(account.name);
  if (!groups.includes(owner.gid)) groups.unshift(owner.gid);
  return { ...owner, groups };
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

async function lookupGroup(option: string, group: string, system: SystemPort): Promise<{ gid: number; name: string | null }> {
  const line = await system.getent('group', group);
  if (line !== null) {
    const [name, , gid] = line.split(':');
    return { gid: Number(gid), name: name || null };
  }
  if (ID.test(group)) return { gid: Number(group), name: null };
  throw usageError('UNKNOWN_GROUP', `${option}: no group ${JSON.stringify(group)} on this host (getent group found nothing)`);
}

async function nameGroup(gid: number, system: SystemPort): Promise<{ gid: number; name: string | null }> {
  const line = await system.getent('group', String(gid));
  const [name, , id] = line?.split(':') ?? [];
  return { gid, name: name !== undefined && name !== '' && Number(id) === gid ? name : null };
}
