import { resolve as resolvePath } from 'node:path';
import { packagesUnused } from '../runtime/copy-packages.ts';
import { describeBaked, ownerText } from '../runtime/describe.ts';
import { usageError } from '../runtime/errors.ts';
import { octal } from '../runtime/paths.ts';
import { bundleCopy } from './bundle.ts';
import { installCopy, installFile } from './install.ts';
import { groupNames } from './owners.ts';
import type { RawEncrypterOptions } from './options.ts';
import { VERSION } from './package-info.ts';
import { renderCopyEntry } from './render.ts';
import { resolveEncrypterOptions, type ResolvedEncrypter } from './resolve.ts';
import { checkConfigTarget, configOfResolved, writeConfigFile } from './save-config.ts';
import { renderServiceFiles } from './service-files.ts';
import { startCopy } from './start.ts';
import { realSystem, type SystemPort } from './system.ts';

export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface EncrypterDeps {
  readonly system?: SystemPort;
  readonly cwd?: string;
  readonly now?: Date;
  readonly nodePath?: string;
}

/** resolve → save the config if asked → (dry run | render → bundle → install → start). */
export async function runEncrypterCommand(raw: RawEncrypterOptions, io: CommandIo, deps: EncrypterDeps = {}): Promise<ResolvedEncrypter> {
  const system = deps.system ?? realSystem;
  const cwd = deps.cwd ?? process.cwd();
  const resolved = await resolveEncrypterOptions(raw, {
    system,
    cwd,
    now: deps.now ?? new Date(),
    version: VERSION,
    nodePath: deps.nodePath ?? process.execPath,
  });
  const described = describeBaked(resolved.baked, await groupNames(resolved.baked.runAs.groups, system));
  const saveLine = `copy:         ${resolved.save.path}  owner ${ownerText(resolved.save.owner)}  mode ${octal(resolved.save.mode)}
`;
  // Written in a dry run too: validating and saving without installing is how a config file is
  // made. Otherwise checked before the copy is installed (a config that cannot be saved stops the
  // run before anything is written) and written after it (a failed install leaves no config).
  const config = raw.saveConfig === undefined ? null : configTarget(raw.saveConfig, resolved, cwd, system.uid);
  const serviceFiles = renderServiceFiles(resolved);
  if (resolved.dryRun) {
    if (config !== null) config.write(configOfResolved(resolved, raw, cwd));
    io.out(`dry run: these options are valid; ${config === null ? 'nothing was written' : 'only the config file was written'}.
${described}${saveLine}${config?.line ?? ''}`);
    for (const file of serviceFiles) io.out(`
${file.option} ${file.target.path} (owner root, mode ${octal(file.target.mode)}) would hold:
${file.text}`);
    return resolved;
  }
  const bytes = await bundleCopy(renderCopyEntry(resolved.baked), resolved.nodePath, packagesUnused(resolved.baked));
  await installCopy(bytes, resolved.save, resolved.force);
  io.out(`installed the encrypter copy (${bytes.length} bytes)
${described}${saveLine}`);
  for (const file of serviceFiles) {
    await installFile(Buffer.from(file.text, 'utf8'), file.target, resolved.force, file.names);
    io.out(`${file.names.what}: ${file.target.path}  mode ${octal(file.target.mode)}; ${file.next}
`);
  }
  if (config !== null) {
    config.write(configOfResolved(resolved, raw, cwd));
    io.out(config.line);
  }
  if (resolved.start) {
    const { pipe, output } = resolved.baked;
    const pid = await startCopy(resolved.save.path, pipe === null ? { output: output.path } : { pipe: pipe.path });
    io.out(`started: pid ${pid}, ${pipe === null ? `appending to ${output.path} (no pipe)` : `reading ${pipe.path}`}\n`);
  }
  return resolved;
}

function configTarget(path: string, resolved: ResolvedEncrypter, cwd: string, uid: number) {
  const absolute = resolvePath(cwd, path);
  const others: Array<readonly [string, string | undefined]> = [
    ['--save-path', resolved.save.path],
    ['--pipe', resolved.baked.pipe?.path],
    ['--output', resolved.baked.output.path],
    ['--systemd-unit', resolved.service?.unit?.path],
    ['--init-script', resolved.service?.initScript?.path],
  ];
  for (const [option, other] of others) {
    if (absolute === other) throw usageError('SAME_PATH', `--save-config and ${option} name the same path ${JSON.stringify(absolute)}`);
  }
  const options = { force: resolved.force, uid };
  checkConfigTarget(absolute, options);
  return {
    write: (config: Parameters<typeof writeConfigFile>[1]) => writeConfigFile(absolute, config, options),
    line: `config:       ${absolute}  mode 600 (it holds the quit string: keep it root's)\n`,
  };
}
