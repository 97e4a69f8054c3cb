// `node --import ./test/helpers/no-openpgp.mjs ...`: registers no-openpgp-hooks.mjs, under which
// importing openpgp.js (statically or dynamically) throws.
import { register } from 'node:module';

register('./no-openpgp-hooks.mjs', import.meta.url);
