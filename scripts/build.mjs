// Builds the paranoid-pipes bin (dist/cli.mjs). Dependencies stay external: the generator runs
// from its installed package; only the encrypter copies it generates are fully self-contained.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['generator/bin.ts'],
  outfile: 'dist/cli.mjs',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync('dist/cli.mjs', 0o755);
