import { basename } from 'node:path';
import type { BakedPath } from '../runtime/baked.ts';
import { VERSION } from './package-info.ts';
import type { ResolvedEncrypter } from './resolve.ts';
import { renderInitScript, renderUnit } from './service-render.ts';
import { renderSessionProfile } from './session-profile.ts';

export interface ServiceFile {
  readonly option: string;
  readonly target: BakedPath;
  readonly text: string;
  readonly names: { option: string; existsCode: string; directoryCode: string; what: string };
  /** What the admin does next, printed after installing. */
  readonly next: string;
}

/** The unit and the init script of a resolved generation, rendered (nothing written here). */
export function renderServiceFiles(resolved: ResolvedEncrypter): ServiceFile[] {
  const files: ServiceFile[] = [];
  const profile = resolved.sessionProfile ?? null;
  if (profile !== null && resolved.baked.session !== undefined) {
    files.push({
      option: '--session-profile',
      target: profile,
      text: renderSessionProfile(resolved.baked.session, VERSION, resolved.save.path),
      names: { option: '--session-profile', existsCode: 'PROFILE_EXISTS', directoryCode: 'PROFILE_IS_DIRECTORY', what: 'session profile snippet' },
      next: 'interactive logins from now on run inside script, into the copy (start the copy first: without it a login waits 3 s, then goes on unlogged)',
    });
  }
  const service = resolved.service;
  if (service === null) return files;
  if (service.unit !== null) {
    const name = basename(service.unit.path);
    files.push({
      option: '--systemd-unit',
      target: service.unit,
      text: renderUnit(service.model, service.unit.path, VERSION),
      names: { option: '--systemd-unit', existsCode: 'UNIT_EXISTS', directoryCode: 'UNIT_IS_DIRECTORY', what: 'systemd unit' },
      next: `run: systemctl daemon-reload && systemctl enable --now ${name}${service.model.before.length > 0 ? ` && systemctl restart ${service.model.before.join(' ')}` : ''}`,
    });
  }
  if (service.initScript !== null) {
    const name = basename(service.initScript.path);
    files.push({
      option: '--init-script',
      target: service.initScript,
      text: renderInitScript(service.model, service.initScript.path, VERSION, resolved.nodePath),
      names: { option: '--init-script', existsCode: 'INIT_SCRIPT_EXISTS', directoryCode: 'INIT_SCRIPT_IS_DIRECTORY', what: 'init script' },
      next: `run: update-rc.d ${name} defaults && ${service.initScript.path} start`,
    });
  }
  return files;
}
