/**
 * The Paranoid_Pipes command line of scenario one (seed 000), as the shell hands it over: its
 * last line (--enc-parsing-bulk-out-dir) follows `--help` without a backslash, so the shell
 * runs it as a command of its own; the migration tests give it separately.
 */
export const SCENARIO_ONE: readonly string[] = [
  '--enc-copy-save-yn=yes',
  '--enc-copy-save-path=/jailer_scripts/website_host/Web_log_encrypter.sh',
  '--enc-copy-save-ownership=notwwwuser:notwwwgroup',
  '--enc-copy-save-permissions=100',
  '--debug-level=6',
  '--enc-parsing-quit-string=sOmErAnDoM_sTrInG_wItHoUt_SpAcEs_tHaT_iS_nOt_NoRmAlY_rEaD',
  '--log-level=0',
  '--enc-pipe-file=/jailed_servers/website_host/var/log/www/access.log.pipe',
  '--enc-pipe-ownership=notwwwuser:wwwgroup',
  '--enc-pipe-permissions=420',
  '--enc-parsing-output-file=/jailed_logs/website_host/www_access.gpg',
  '--enc-parsing-recipient=user@host.domain',
  '--enc-parsing-output-rotate-actions=compress-encrypt,remove-old',
  '--enc-output-rotate-check-requency=25000',
  '--enc-parsing-output-max-size=8388608',
  '--enc-parsing-output-rotate-recipient=user@host.domain',
  '--enc-parsing-output-rotate-yn=yes',
  '--enc-parsing-save-output-yn=yes',
  '--enc-parsing-disown-yn=yes',
  '--help',
];

export const SCENARIO_ONE_BULK = '--enc-parsing-bulk-out-dir=/server/backups/website_host';

/** The encrypter options scenario one converts to, in the option table's order. */
export const SCENARIO_ONE_CONVERTED: ReadonlyArray<readonly [string, string | true]> = [
  ['recipient', 'user@host.domain'],
  ['pipe', '/jailed_servers/website_host/var/log/www/access.log.pipe'],
  ['pipe-owner', 'notwwwuser:wwwgroup'],
  ['pipe-mode', '620'],
  ['output', '/jailed_logs/website_host/www_access.gpg'],
  ['save-path', '/jailer_scripts/website_host/Web_log_encrypter.mjs'],
  ['save-owner', 'root:root'],
  ['save-mode', '100'],
  ['quit-string', 'sOmErAnDoM_sTrInG_wItHoUt_SpAcEs_tHaT_iS_nOt_NoRmAlY_rEaD'],
  ['run-as', 'notwwwuser:notwwwgroup'],
  ['log-level', 'error'],
  ['rotate-size', '8M'],
  ['rotate-check-every', '25000'],
  ['rotate-actions', 'compress-encrypt,remove-old'],
  ['rotate-recipient', 'user@host.domain'],
  ['archive-dir', '/jailed_logs/website_host/archive'],
  ['start', true],
  ['help', true],
];
