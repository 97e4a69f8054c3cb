import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Handlebars from 'handlebars';
import { COPY_LIMITS } from '../runtime/copy-limits.ts';
import { PACKAGE_ROOT } from './package-info.ts';
import { assertSafeValue, initScriptName, type ServiceModel } from './service-options.ts';

/**
 * Renders the systemd unit and the init script. Values were checked at resolution to hold only
 * characters that need no quoting in either syntax (service-options.ts); the helpers check again
 * and refuse rather than escape: `unit` writes space-separated words as they are, `sh` writes
 * one single-quoted shell word. An isolated, strict Handlebars; a template that prints a value
 * without one of these helpers does not compile.
 */
const hb = Handlebars.create();
hb.registerHelper('unit', (value: unknown) => new hb.SafeString(words(value).map((w) => assertSafeValue('unit value', w)).join(' ')));
hb.registerHelper('sh', (value: unknown) => new hb.SafeString(`'${words(value).map((w) => assertSafeValue('init script value', w)).join(' ')}'`));

function words(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'number' || typeof value === 'string') return [String(value)];
  throw new TypeError(`cannot render ${typeof value} into a service file`);
}

function compile(name: string): HandlebarsTemplateDelegate {
  const source = readFileSync(join(PACKAGE_ROOT, 'templates', name), 'utf8');
  // Every {{...}} is a block ({{#if}}, {{/if}}, {{else}}) or goes through unit/sh.
  const bare = /\{\{(?!#|\/|else\}\}|unit |sh )/.exec(source);
  if (bare !== null || source.includes('{{{')) throw new Error(`template ${name} prints a value without the unit or sh helper`);
  return hb.compile(source, { strict: true, knownHelpers: { unit: true, sh: true }, knownHelpersOnly: true });
}

const templates = new Map<string, HandlebarsTemplateDelegate>();
function template(name: string): HandlebarsTemplateDelegate {
  let t = templates.get(name);
  if (t === undefined) {
    t = compile(name);
    templates.set(name, t);
  }
  return t;
}

/**
 * Seconds a stop may take: the rotation wait, then a failing disk's retries at the longest
 * backoff, plus margin. Longer than that, the service manager's SIGKILL would cut a clean stop.
 */
export const STOP_TIMEOUT_S = Math.ceil((COPY_LIMITS.stopRotationWaitMs + COPY_LIMITS.stopAttempts * COPY_LIMITS.retryMaxMs) / 1000) + 10;

export function renderUnit(model: ServiceModel, unitPath: string, version: string): string {
  return template('systemd.service.hbs')({
    ...model,
    version,
    unitName: basename(unitPath),
    userShape: model.startAs === 'run-as',
    sendmail: model.mail === 'sendmail',
    smtp: model.mail === 'smtp',
    network: model.mail === 'smtp' || model.forward,
    // One address to allow only when the SMTP server is all the copy talks to.
    onlyAddress: model.forward ? null : model.smtpAddress,
    timeoutStopSec: `${STOP_TIMEOUT_S}s`,
  });
}

export function renderInitScript(model: ServiceModel, scriptPath: string, version: string, nodePath: string): string {
  const name = initScriptName(scriptPath);
  return template('init-script.sh.hbs')({
    ...model,
    name,
    version,
    nodePath,
    pidFile: `/run/${name}.pid`,
    diagnosticsFile: `/var/log/${name}.diagnostics.log`,
    pipeDir: model.pipePath === null ? null : dirname(model.pipePath),
    runAsUid: model.runAsIds.uid,
    runAsGid: model.runAsIds.gid,
    stopTimeout: STOP_TIMEOUT_S,
    // LSB headers name init scripts, not units: nginx.service -> nginx.
    before: model.before.map((unit) => unit.replace(/\.service$/, '')),
  });
}
