import { describeBaked, ownerText } from '../runtime/describe.ts';
import { octal } from '../runtime/paths.ts';
import { bundleCopy } from './bundle.ts';
import { installCopy } from './install.ts';
import { groupNames } from './owners.ts';
import type { RawEncrypterOptions } from './options.ts';
import { VERSION } from './package-info.ts';
import { renderCopyEntry } from './render.ts';
import { resolveEncrypterOptions, type ResolvedEncrypter } from './resolve.ts';
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

/** resolve → (dry run | render → bundle → install → start). */
export async function runEncrypterCommand(raw: RawEncrypterOptions, io: CommandIo, deps: EncrypterDeps = {}): Promise<ResolvedEncrypter> {
  const system = deps.system ?? realSystem;
  const resolved = await resolveEncrypterOptions(raw, {
    system,
    cwd: deps.cwd ?? process.cwd(),
    now: deps.now ?? new Date(),
    version: VERSION,
    nodePath: deps.nodePath ?? process.execPath,
  });
  const described = describeBaked(resolved.baked, await groupNames(resolved.baked.runAs.groups, system));
  const saveLine = `copy:         ${resolved.save.path}  owner ${ownerText(resolved.save.owner)}  mode ${octal(resolved.save.mode)}\n`;
  if (resolved.dryRun) {
    io.out(`dry run: these options are valid; nothing was written.\n${described}${saveLine}`);
    return resolved;
  }
  const bytes = await bundleCopy(renderCopyEntry(resolved.baked), resolved.nodePath);
  await installCopy(bytes, resolved.save, resolved.force);
  io.out(`installed the encrypter copy (${bytes.length} bytes)\n${described}${saveLine}`);
  if (resolved.start) {
    const pid = await startCopy(resolved.save.path, resolved.baked.pipe.path);
    io.out(`started: pid ${pid}, reading ${resolved.baked.pipe.path}\n`);
  }
  return resolved;
}
