import { dirname } from 'node:path';
import { PipesError, refusal, usageError } from '../runtime/errors.ts';
import { CONFIG_KEYS } from './config-file.ts';
import { BadValue, PP_RULES, ROTATE_YN, type Given, type Outcome, type Setting } from './migrate-table.ts';
import { shellQuote } from './shell-quote.ts';
import { suggest } from './suggest.ts';

/**
 * `paranoid-pipes migrate -- <Paranoid_Pipes options>`: the equivalent `paranoid-pipes encrypter`
 * command (or config file), option by option. Nothing is dropped silently: every option given
 * gets a note, options with no equivalent are reported, and what must not carry over (a secret
 * or plaintext on the logging host) fails the whole migration with the reason (exit 3). The
 * command is printed, never run: the admin reads it first.
 */
export interface MigrationNote {
  /** The Paranoid_Pipes option as given (with its value for yes/no options), or the option added. */
  readonly from: string;
  readonly kind: Exclude<Outcome['kind'], 'refused'> | 'added' | 'needed';
  readonly to: readonly Setting[];
  readonly text: string;
}

export interface Migration {
  readonly notes: readonly MigrationNote[];
  /** Encrypter options by long name, in the order of the encrypter's option table. */
  readonly settings: readonly Setting[];
}

interface Entry {
  readonly name: string;
  readonly value: string;
}

/** The encrypter's own default for --rotate-actions (generator/rotation-options.ts). */
const DEFAULT_ACTIONS = 'compress-encrypt,remove-old';

export function migrate(args: readonly string[]): Migration {
  if (args.length === 0) throw usageError('MIGRATE_NOTHING', 'give the Paranoid_Pipes options after --, e.g. paranoid-pipes migrate -- --enc-pipe-file=/path/to/pipe ...');
  const { entries, problems } = parseArgs(args);
  const given: Given = {
    one: (name) => entries.find((e) => e.name === name)?.value,
    yes: (name) => entries.find((e) => e.name === name)?.value === 'yes',
  };
  const notes: MigrationNote[] = [];
  for (const entry of entries) {
    const rule = PP_RULES[entry.name]!;
    let outcome: Outcome;
    try {
      outcome = rule.convert(entry.value, given);
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      problems.push(usageError('MIGRATE_BAD_VALUE', `${entry.name} ${err.message}`));
      continue;
    }
    const from = rule.takes === 'yn' ? `${entry.name}=${entry.value}` : entry.name;
    if (outcome.kind === 'refused') problems.push(refusal(outcome.code, `${entry.name}: ${outcome.note}`));
    else notes.push({ from, kind: outcome.kind, to: outcome.kind === 'mapped' ? outcome.set : [], text: outcome.note });
  }
  if (problems.length > 0) throw combined(problems);
  notes.push(...derived(notes.flatMap((n) => n.to), given));
  return { notes, settings: inTableOrder(notes.flatMap((n) => n.to)) };
}

function parseArgs(args: readonly string[]): { entries: Entry[]; problems: PipesError[] } {
  const entries: Entry[] = [];
  const problems: PipesError[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const rule = Object.prototype.hasOwnProperty.call(PP_RULES, name) ? PP_RULES[name] : undefined;
    if (!name.startsWith('--') || rule === undefined) {
      const near = name.startsWith('--') ? suggest(name, Object.keys(PP_RULES)) : null;
      problems.push(
        usageError(
          'MIGRATE_UNKNOWN_OPTION',
          name.startsWith('--')
            ? `${name} is not a Paranoid_Pipes option this migration knows${near === null ? '' : ` (did you mean ${near}?)`}; nothing is guessed`
            : `${JSON.stringify(arg)} is not an option: Paranoid_Pipes options look like --name=value`,
        ),
      );
      continue;
    }
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (rule.takes === 'flag') {
      if (value !== undefined) problems.push(usageError('MIGRATE_BAD_VALUE', `${name} takes no value`));
      value = 'yes';
    } else if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(usageError('MIGRATE_BAD_VALUE', `${name} needs a value (${name}=VALUE)`));
        continue;
      }
      value = next;
      i += 1;
    }
    if (rule.takes === 'yn') {
      const yn = /^(y|yes)$/i.test(value) ? 'yes' : /^(n|no)$/i.test(value) ? 'no' : null;
      if (yn === null) {
        problems.push(usageError('MIGRATE_BAD_VALUE', `${name} takes yes or no, got ${JSON.stringify(value)}`));
        continue;
      }
      value = yn;
    }
    if (rule.repeatable !== true && entries.some((e) => e.name === name)) {
      problems.push(usageError('MIGRATE_REPEATED', `${name} is given twice; which one Paranoid_Pipes used is not guessed`));
      continue;
    }
    entries.push({ name, value });
  }
  return { entries, problems };
}

/** All problems at once (an admin fixes a command line in one go); exit 3 if any is a refusal. */
function combined(problems: readonly PipesError[]): PipesError {
  const first = problems.find((p) => p.exitCode === 3) ?? (problems[0] as PipesError);
  if (problems.length === 1) return first;
  // Refusals first: they are what no edit of a value fixes.
  const ordered = [...problems].sort((a, b) => b.exitCode - a.exitCode);
  const lines = ordered.map((p) => `  [${p.code}] ${p.message}`).join('\n');
  return new PipesError(first.code, `${problems.length} options cannot be migrated:\n${lines}`, first.exitCode);
}

/** What the encrypter needs that no Paranoid_Pipes option said. */
function derived(settings: readonly Setting[], given: Given): MigrationNote[] {
  const has = (option: string) => settings.some(([o]) => o === option);
  const value = (option: string) => settings.find(([o]) => o === option)?.[1];
  const needed = (option: string, text: string): MigrationNote => ({ from: option, kind: 'needed', to: [], text });
  const notes: MigrationNote[] = [];
  if (!has('recipient')) notes.push(needed('--recipient-key FILE', 'the public key the logs are encrypted to (or --recipient EMAIL from the GnuPG keyring)'));
  for (const option of ['pipe', 'output', 'save-path']) if (!has(option)) notes.push(needed(`--${option} PATH`, 'required'));
  if (!given.yes(ROTATE_YN)) return notes;
  if (!has('rotate-size')) notes.push(needed('--rotate-size SIZE', 'rotation is on but no size was given (or use --rotate-interval DURATION)'));
  const actions = String(value('rotate-actions') ?? DEFAULT_ACTIONS);
  const output = value('output');
  if (actions.includes('compress-encrypt')) {
    if (typeof output === 'string') {
      const dir = `${dirname(output)}/archive`;
      notes.push({
        from: '--archive-dir',
        kind: 'added',
        to: [['archive-dir', dir]],
        text: 'compress-encrypt needs a directory of its own for the archives, beside the log; create it (owner: the --run-as user, mode 700) or choose another',
      });
    } else {
      notes.push(needed('--archive-dir DIR', 'compress-encrypt needs a directory for the archives'));
    }
  }
  if (actions.includes('encrypted-email')) {
    if (!has('mail-to')) notes.push(needed('--mail-to ADDRESS', 'where the archives are mailed (Paranoid_Pipes mailed them to --enc-parsing-output-rotate-recipient)'));
    notes.push(needed('--mail-from ADDRESS', 'the sender of the archive mails (Paranoid_Pipes left it to mutt); mail goes through sendmail unless --mail-transport smtp://HOST:PORT'));
  }
  return notes;
}

function inTableOrder(settings: readonly Setting[]): Setting[] {
  const order = [...CONFIG_KEYS.keys()];
  return [...settings].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
}

function noteLine(note: MigrationNote): string {
  const to = note.to.map(([o]) => `--${o}`).join(' ');
  switch (note.kind) {
    case 'mapped':
      return `${note.from} -> ${to}: ${note.text}`;
    case 'implied':
      return `${note.from}: nothing to carry: ${note.text}`;
    case 'not-carried':
      return `${note.from}: NOT CARRIED OVER: ${note.text}`;
    case 'added':
      return `(added) ${to}: ${note.text}`;
    case 'needed':
      return `STILL NEEDED: ${note.from}: ${note.text}`;
  }
}

/** The notes as a table (for stderr) and a one-line summary of what needs the admin's eye. */
export function describeNotes(m: Migration): { table: string; attention: string | null } {
  const table = m.notes.map((n) => `  ${noteLine(n)}\n`).join('');
  const count = (kind: MigrationNote['kind']) => m.notes.filter((n) => n.kind === kind).length;
  const [notCarried, needed] = [count('not-carried'), count('needed')];
  const attention = notCarried + needed === 0 ? null : `${notCarried} option(s) not carried over, ${needed} still needed: read the notes before running it`;
  return { table, attention };
}

/** A shell snippet: one comment line per option, then the command, every value shell-quoted. */
export function renderCommand(m: Migration): string {
  const comments = m.notes.map((n) => `#   ${noteLine(n)}\n`).join('');
  const words = m.settings.map(([option, value]) => (value === true ? `--${option}` : `--${option} ${shellQuote(value)}`));
  return `# paranoid-pipes migrate: each Paranoid_Pipes option and what it became\n${comments}paranoid-pipes encrypter \\\n${words.map((w) => `  ${w}`).join(' \\\n')}\n`;
}

/** The same options as a --config file. --help has no place in a file: it is said on stderr. */
export function renderConfig(m: Migration): { json: string; dropped: string[] } {
  const out: Record<string, string | string[] | true> = {};
  const dropped: string[] = [];
  for (const [option, value] of m.settings) {
    if (option === 'help') {
      dropped.push('--help (a dry run) cannot go in a config file: run paranoid-pipes encrypter --config FILE --help');
      continue;
    }
    if (CONFIG_KEYS.get(option)?.kind === 'list') out[option] = [...((out[option] as string[] | undefined) ?? []), String(value)];
    else out[option] = value;
  }
  return { json: `${JSON.stringify(out, null, 2)}\n`, dropped };
}
