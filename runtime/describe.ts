import { createHash } from 'node:crypto';
import type { BakedOptions } from './baked.ts';
import { octal } from './paths.ts';
import { MAX_BLOCKS_PER_WINDOW } from './session-key.ts';

/** SHA-256 of the baked options as baked: recorded in every stream-start block. */
export function optionsDigest(baked: BakedOptions): string {
  return createHash('sha256').update(JSON.stringify(baked)).digest('hex');
}

/**
 * What a copy will do, for humans: the generator's dry run and the copy's --help print this.
 * The quit string is a secret (whoever knows it can stop the logging): only its presence shows.
 */
export function describeBaked(baked: BakedOptions): string {
  const lines = [
    `paranoid-pipes encrypter copy, version ${baked.copyVersion}, options digest ${optionsDigest(baked).slice(0, 16)}`,
    'recipients:',
    ...baked.recipients.map((r) => `  ${r.fingerprint}  ${r.userIds.join(', ') || '(no user id)'}`),
    `pipe:         ${baked.pipe.path}  owner ${baked.pipe.owner.label} (${baked.pipe.owner.uid}:${baked.pipe.owner.gid})  mode ${octal(baked.pipe.mode)}`,
    `output:       ${baked.output.path}  owner ${baked.output.owner.label} (${baked.output.owner.uid}:${baked.output.owner.gid})  mode ${octal(baked.output.mode)}`,
    `run as:       ${baked.runAs.label} (${baked.runAs.uid}:${baked.runAs.gid}, groups ${baked.runAs.groups.join(',') || 'none'})`,
    `compression:  ${baked.compress}`,
    `encoding:     ${baked.armor ? 'armored' : 'binary'}`,
    `session key:  ${baked.sessionKeyWindowMs === 0 ? 'a fresh one per block' : `one per ${baked.sessionKeyWindowMs / 1000} s window (at most ${MAX_BLOCKS_PER_WINDOW} blocks)`}`,
    `quit string:  ${baked.quitString === null ? 'none (stops on SIGTERM/SIGINT only)' : '<redacted>'}`,
    `header lines: ${baked.header.length}`,
    `log level:    ${baked.logLevel}`,
    `overload:     buffer at most ${baked.overload.maxBufferBytes} bytes, then ${baked.overload.policy === 'block' ? 'block (writers wait)' : 'drop whole blocks (counted in the log)'}`,
    ...describeRotation(baked),
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
    ...(r.archive === null ? [] : [`  archives in ${r.archive.path}  owner ${r.archive.owner.label}  mode ${octal(r.archive.mode)}`]),
    ...(r.mail === null ? [] : [`  mail from ${r.mail.from} to ${r.mail.to.join(', ')} via ${r.mail.transport.kind === 'smtp' ? r.mail.transport.url : r.mail.transport.path}`]),
  ];
}
