import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { BakedOptions } from '../runtime/baked.ts';
import { PACKAGE_ROOT } from './package-info.ts';

/** The module specifier the entry template imports; the bundler maps it to runtime/copy.ts. */
export const RUNTIME_SPECIFIER = '@paranoid-pipes/runtime';

/**
 * Renders the copy's entry source. Values reach the code only through the `js` helper, which
 * emits a JSON literal: a quit string or path holding quotes, backslashes, newlines or `</script>`
 * stays data. Handlebars is isolated (no global helpers), strict (a missing value is an error),
 * and refuses helpers it does not know; triple-stash raw output is banned from the templates.
 */
const hb = Handlebars.create();
hb.registerHelper('js', (value: unknown) => new hb.SafeString(toJsLiteral(value)));

export function toJsLiteral(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('cannot bake undefined');
  // JSON is valid JS, but U+2028/U+2029 were line terminators in older engines: escape them.
  return json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function compileTemplate(name: string): HandlebarsTemplateDelegate {
  const source = readFileSync(join(PACKAGE_ROOT, 'templates', name), 'utf8');
  if (source.includes('{{{')) throw new Error(`template ${name} uses raw {{{ }}} output; use the js helper`);
  return hb.compile(source, { strict: true, knownHelpers: { js: true }, knownHelpersOnly: true });
}

let entryTemplate: HandlebarsTemplateDelegate | null = null;

export function renderCopyEntry(baked: BakedOptions): string {
  entryTemplate ??= compileTemplate('copy.mjs.hbs');
  return entryTemplate({ baked, generatedAt: baked.generatedAt, copyVersion: baked.copyVersion, runtimeEntry: RUNTIME_SPECIFIER });
}
