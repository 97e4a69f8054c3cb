import type { BakedOptions } from './baked.ts';
import { sealsNatively } from './seal/recipient-keys.ts';

/**
 * The bundled packages a copy with these baked options never loads, which the generator leaves
 * out of its bundle (generator/bundle.ts): V8 keeps a script's whole source in the heap, and
 * openpgp.js, nodemailer and the NATS client were 1.6 of the copy's 1.9 MB. Each is needed only
 * for what the options ask for:
 * - openpgp.js: archives and reports (openpgp.encrypt), and keys the copy does not seal to
 *   natively (runtime/seal/recipient-keys.ts);
 * - nodemailer: mailed archives and reports;
 * - the NATS client: --forward nats://.
 */
export function packagesUnused(baked: BakedOptions): string[] {
  const unused: string[] = [];
  const report = baked.report !== undefined;
  if (baked.rotation === null && !report && sealsNatively(baked.recipients)) unused.push('openpgp');
  if (baked.rotation?.mail == null && !report) unused.push('nodemailer');
  if (!(baked.forward ?? []).some((f) => f.kind === 'nats')) unused.push('@nats-io/transport-node', '@nats-io/jetstream');
  return unused;
}
