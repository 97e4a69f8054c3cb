import { builtinModules } from 'node:module';
import type { Plugin } from 'esbuild';

/** The banner's name for node's `require` in the copy (bundle.ts). */
export const BUILTIN_REQUIRE = '__ppRequire';

const BUILTINS = new Set(builtinModules);

/**
 * Node's own modules reach the copy through `require` when the module that imports them is
 * evaluated, not as ES imports. esbuild must hoist an ES import of an external module to the top
 * of the bundle, where node loads it at start even when only code the copy never runs (or runs
 * only when an option asks for it: mail, forwarding, archives) imports it; each such module
 * (http, https, tls, dns, worker_threads, ...) costs memory for its code and objects and touches
 * pages of the node binary. As a bundled CommonJS shim it is loaded where esbuild initialises
 * its importer: at start for the copy's own code, on first use for a lazily imported part.
 */
export function lazyBuiltins(): Plugin {
  return {
    name: 'lazy-builtins',
    setup(build) {
      build.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (args) => {
        const name = args.path.startsWith('node:') ? args.path.slice('node:'.length) : args.path;
        return BUILTINS.has(name) ? { path: name, namespace: 'lazy-builtin' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
        contents: `module.exports = ${BUILTIN_REQUIRE}(${JSON.stringify(`node:${args.path}`)});`,
        loader: 'js',
      }));
    },
  };
}
