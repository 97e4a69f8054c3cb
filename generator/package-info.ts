import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root. Both generator/*.ts (tests, tsc) and dist/cli.mjs (the built bin) sit one
 * directory below it, so the same relative step works for both.
 */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
