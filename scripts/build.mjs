// Builds the paranoid-pipes bin (dist/cli.mjs). Dependencies stay external: the generator runs
// from its installed package; only the encrypter copies it generates are fully self-contained.
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunks are named by their content: those of an earlier build would pile up.
for (const name of (existsSync('dist') ? readdirSync('dist', { withFileTypes: true }) : []).filter((e) => e.isFile() && /^chunk-.*\.mjs$/.test(e.name))) rmSync(`dist/${name.name}`);

await build({
  // Split: what only some commands use (esbuild, Handlebars, the NATS client) is in chunks beside
  // cli.mjs, loaded when a command needs it. Chunks sit in dist/ itself, so their
  // import.meta.url finds the package root as cli.mjs does.
  entryPoints: { cli: 'generator/bin.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync('dist/cli.mjs', 0o755);
