import { describeBaked } from '../runtime/describe.ts';
import { octal } from '../runtime/paths.ts';
import { bundleCopy } from './bundle.ts';
import { installCopy, installFile } from './install.ts';
import type { RawEncrypterOptions } from './options.ts';
import { VERSION } from './package-info.ts';
import { renderCopyEntry } from './render.ts';
import { resolveEncrypterOptions, type ResolvedEncrypter } from './resolve.ts';
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

/** resolve → (dry run | render → bundle → install → start). */
export async function runEncrypterCommand(raw: RawEncrypterOptions, io: CommandIo, deps: EncrypterDeps = {}): Promise<ResolvedEncrypter> {
  const resolved = await resolveEncrypterOptions(raw, {
    system: deps.system ?? realSystem,
    cwd: deps.cwd ?? process.cwd(),
    now: deps.now ?? new Date(),
    version: VERSION,
    nodePath: deps.nodePath ?? process.execPath,
  });
  const saveLine = `copy:         ${resolved.save.path}  owner ${resolved.save.owner.label} (${resolved.save.owner.uid}:${resolved.save.owner.gid})  mode ${octal(resolved.save.mode)}\n`;
  const serviceFiles = renderServiceFiles(resolved);
  if (resolved.dryRun) {
    io.out(`dry run: these options are valid; nothing was written.\n${describeBaked(resolved.baked)}${saveLine}`);
    for (const file of serviceFiles) io.out(`\n${file.option} ${file.target.path} (owner root, mode ${octal(file.target.mode)}) would hold:\n${file.text}`);
    return resolved;
  }
  const bytes = await bundleCopy(renderCopyEntry(resolved.baked), resolved.nodePath);
  await installCopy(bytes, resolved.save, resolved.force);
  io.out(`installed the encrypter copy (${bytes.length} bytes)\n${describeBaked(resolved.baked)}${saveLine}`);
  for (const file of serviceFiles) {
    await installFile(Buffer.from(file.text, 'utf8'), file.target, resolved.force, file.names);
    io.out(`${file.names.what}: ${file.target.path}  mode ${octal(file.target.mode)}; ${file.next}\n`);
  }
  if (resolved.start) {
    const pid = await startCopy(resolved.save.path, resolved.baked.pipe.path);
    io.out(`started: pid ${pid}, reading ${resolved.baked.pipe.path}\n`);
  }
  return resolved;
}
