import { basename } from 'node:path';
import type { BakedPath } from '../runtime/baked.ts';
import { VERSION } from './package-info.ts';
import type { ResolvedEncrypter } from './resolve.ts';
import { renderInitScript, renderUnit } from './service-render.ts';

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
  const service = resolved.service;
  if (service === null) return [];
  const files: ServiceFile[] = [];
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
