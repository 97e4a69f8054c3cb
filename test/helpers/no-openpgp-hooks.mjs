// Module resolution hooks for tests: any import of openpgp.js fails, so a run that succeeds
// under them (test/helpers/no-openpgp.mjs) proves it never loaded openpgp.js.
export const FORBIDDEN = 'openpgp.js was imported, which test/helpers/no-openpgp.mjs forbids';

export async function resolve(specifier, context, next) {
  if (specifier === 'openpgp' || specifier.startsWith('openpgp/')) throw new Error(FORBIDDEN);
  return next(specifier, context);
}
