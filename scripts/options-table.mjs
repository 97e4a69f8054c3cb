// Prints the README options table from generator/options.ts: npm run options-table.
// Node 20 cannot import .ts itself; esbuild strips the types (options.ts imports nothing).
import { readFileSync } from 'node:fs';
import { transform } from 'esbuild';

const source = readFileSync(new URL('../generator/options.ts', import.meta.url), 'utf8');
const { code } = await transform(source, { loader: 'ts', format: 'esm' });
const { optionsMarkdownTable } = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
process.stdout.write(`${optionsMarkdownTable()}\n`);
