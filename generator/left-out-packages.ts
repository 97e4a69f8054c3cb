import type { Plugin } from 'esbuild';

/**
 * Packages a copy's options never use (runtime/copy-packages.ts) are bundled as a module that
 * throws when evaluated: only code those options would run imports them, and it is loaded
 * lazily, so the copy never evaluates it. Should it ever, the error names the package.
 * CommonJS, so importers' named imports need no matching exports.
 */
export function leftOutPackages(names: readonly string[]): Plugin {
  const left = new Set(names);
  return {
    name: 'left-out-packages',
    setup(build) {
      build.onResolve({ filter: /^[@a-z]/ }, (args) => {
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : (args.path.split('/')[0] as string);
        return left.has(name) ? { path: name, namespace: 'left-out' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`paranoid-pipes: ${args.path} was left out of this copy, whose options do not use it; please report this`)});`,
        loader: 'js',
      }));
    },
  };
}
