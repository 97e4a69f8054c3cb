import { join } from 'node:path';
import { build } from 'esbuild';
import { PipesError } from '../runtime/errors.ts';
import { leftOutPackages } from './left-out-packages.ts';
import { oneByteSource } from './one-byte-source.ts';
import { PACKAGE_ROOT } from './package-info.ts';
import { RUNTIME_SPECIFIER } from './render.ts';

/**
 * Bundles the rendered entry and everything it imports into one ESM file that runs with no
 * node_modules beside it. ESM because openpgp 6 bundled as CJS crashes at load. The banner
 * gives bundled CommonJS code a `require` for Node built-ins. `leaveOut`: packages the copy's
 * options never use (runtime/copy-packages.ts), bundled as a stub that throws; their imports of
 * node's modules (which esbuild hoists to the top, so node would load them at start) go with them.
 */
export async function bundleCopy(entrySource: string, nodePath: string, leaveOut: readonly string[] = []): Promise<Buffer> {
  const result = await build({
    stdin: { contents: entrySource, resolveDir: PACKAGE_ROOT, sourcefile: 'paranoid-pipes-copy.mjs', loader: 'js' },
    alias: { [RUNTIME_SPECIFIER]: join(PACKAGE_ROOT, 'runtime', 'copy.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    legalComments: 'inline',
    plugins: [leftOutPackages(leaveOut)],
    banner: {
      js: `#!${nodePath}\nimport { createRequire as __ppCreateRequire } from 'node:module';\nconst require = __ppCreateRequire(import.meta.url);`,
    },
  }).catch((err: unknown) => {
    throw new PipesError('BUNDLE_FAILED', `bundling the copy failed: ${(err as Error).message}`);
  });
  const file = result.outputFiles[0];
  if (file === undefined) throw new PipesError('BUNDLE_FAILED', 'bundling produced no output');
  // One byte per character in V8's heap (see one-byte-source.ts).
  return Buffer.from(oneByteSource(file.text), 'utf8');
}
