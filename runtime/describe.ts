import { createHash } from 'node:crypto';
import type { BakedOptions, Owner } from './baked.ts';
import { octal } from './paths.ts';
import { MAX_BLOCKS_PER_WINDOW } from './session-key.ts';

/** SHA-256 of the baked options as baked: recorded in every stream-start block. */
export function optionsDigest(baked: BakedOptions): string {
  return createHash('sha256').update(JSON.stringify(baked)).digest('hex');
}

/** `www-data:adm (33:4)`: the baked names and the ids they stand for; ids once when unnamed. */
export function ownerText(owner: Owner): string {
  const ids = `${owner.uid}:${owner.gid}`;
  return owner.label === ids ? ids : `${owner.label} (${ids})`;
}

/**
 * What a copy will do, for humans: the generator's dry run and the copy's --help print this.
 * The quit string is a secret (whoever knows it can stop the logging): only its presence shows.
 * `groupNames` names the run-as user's groups: the generator looks them up; the copy never
 * looks names up and prints the ids.
 */
export function describeBaked(baked: BakedOptions, groupNames: ReadonlyMap<number, string> = new Map()): string {
  const groups = baked.runAs.groups.map((gid) => (groupNames.has(gid) ? `${groupNames.get(gid)}(${gid})` : String(gid))).join(',');
  const lines = [
    `paranoid-pipes encrypter copy, version ${baked.copyVersion}, options digest ${optionsDigest(baked).slice(0, 16)}`,
    'recipients:',
    ...baked.recipients.map((r) => `  ${r.fingerprint}  ${r.userIds.join(', ') || '(no user id)'}`),
    baked.pipe === null ? 'pipe:         none: reads only its watched files and sessions' : `pipe:         ${baked.pipe.path}  owner ${ownerText(baked.pipe.owner)}  mode ${octal(baked.pipe.mode)}`,
    `output:       ${baked.output.path}  owner ${ownerText(baked.output.owner)}  mode ${octal(baked.output.mode)}`,
    `run as:       ${ownerText(baked.runAs)}, groups ${groups || 'none'}`,
    `compression:  ${baked.compress}`,
    `encoding:     ${baked.armor ? 'armored' : 'binary'}`,
    `session key:  ${baked.sessionKeyWindowMs === 0 ? 'a fresh one per block' : `one per ${baked.sessionKeyWindowMs / 1000} s window (at most ${MAX_BLOCKS_PER_WINDOW} blocks)`}`,
    `quit string:  ${baked.quitString === null ? `none (stops on SIGTERM/SIGINT only${baked.pipe === null ? ': there is no pipe to write it into' : ''})` : '<redacted>'}`,
    `header lines: ${baked.header.length}`,
    `log level:    ${baked.logLevel}`,
    `overload:     buffer at most ${baked.overload.maxBufferBytes} bytes, then ${baked.overload.policy === 'block' ? 'block (writers wait)' : 'drop whole blocks (counted in the log)'}`,
    `heartbeat:    ${baked.heartbeatMs === null ? 'off' : `a sealed heartbeat block after ${baked.heartbeatMs / 1000} s without a block`}`,
    ...describeRotation(baked),
    ...(baked.watch?.files ?? []).map((f, i) => `${i === 0 ? 'watch files:  ' : '              '}${f}`),
    ...(baked.watch === undefined ? [] : [`  new files from their ${baked.watch.from}${baked.watch.consume ? '; emptied once durable (--consume)' : ''}`]),
    ...(baked.session === undefined ? [] : [`sessions:     pipes in ${baked.session.dir} (mode 3733), one source per login session`]),
    ...(baked.forward ?? []).map((f, i) => `${i === 0 ? 'forward:      ' : '              '}${f.label}`),
    ...describeExtras(baked),
  ];
  return `${lines.join('\n')}\n`;
}

function describeRotation(baked: BakedOptions): string[] {
  const r = baked.rotation;
  if (r === null) return ['rotation:     off'];
  const when = [r.maxBytes === null ? '' : `at ${r.maxBytes} bytes (checked every ${r.checkEvery} appends)`, r.intervalMs === null ? '' : `checked every ${r.intervalMs / 1000} s`].filter(Boolean).join(', ');
  return [
    `rotation:     ${when}; ${r.actions.join(', ')}`,
    ...r.recipients.map((k) => `  archive key ${k.fingerprint}  ${k.userIds.join(', ')}`),
    ...(r.archive === null ? [] : [`  archives in ${r.archive.path}  owner ${ownerText(r.archive.owner)}  mode ${octal(r.archive.mode)}`]),
    ...(r.mail === null ? [] : [`  mail from ${r.mail.from} to ${r.mail.to.join(', ')} via ${r.mail.transport.kind === 'smtp' ? r.mail.transport.url : r.mail.transport.path}`]),
  ];
}

/** --ignore/--keep, --monitor, --report-every: lines only when set, so older copies print as before. */
function describeExtras(baked: BakedOptions): string[] {
  const f = baked.filters;
  const m = baked.monitor;
  const r = baked.report;
  return [
    ...(f === undefined ? [] : [...f.ignore.map((p) => `ignore:       ${JSON.stringify(p)}`), ...f.keep.map((p) => `keep:         ${JSON.stringify(p)}`)]),
    ...(m === undefined ? [] : [`monitor:      every ${m.everyMs / 1000} s: ${m.paths.join(', ')}`]),
    ...(r === undefined ? [] : [`report:       every ${r.everyMs / 1000} s, from ${r.mail.from} to ${r.mail.to.join(', ')} via ${r.mail.transport.kind === 'smtp' ? r.mail.transport.url : r.mail.transport.path}`]),
  ];
}
