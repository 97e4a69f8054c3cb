import type { BakedSession } from '../runtime/baked.ts';

/**
 * The /etc/profile.d/ snippet for --session-profile: an interactive login makes a FIFO in the
 * session directory (`<user>.<tty>.<random>`, mode 640 through umask 027: the directory's setgid bit gives it the
 * copy's group; made under umask 027), waits up to 3 s for the copy to take it (renamed `.taken`), then replaces the
 * shell with `script -qf` writing the session into it. The copy takes the user from the pipe's
 * owner, never from the name. If the copy does not answer, the login goes on unlogged and says so.
 * The directory path was checked to hold no shell metacharacters (session-options.ts).
 */
export function renderSessionProfile(session: BakedSession, version: string, copyPath: string): string {
  return `# paranoid-pipes ${version}: interactive logins are logged, encrypted, by the copy ${copyPath},
# each through a pipe of its own in ${session.dir} (docs/sources.md). Owner root, mode 644.
if [ -z "\${PARANOID_PIPES_SESSION:-}" ] && [ -t 0 ] && [ -t 1 ]; then
  case $- in
  *i*)
    PARANOID_PIPES_SESSION=1
    export PARANOID_PIPES_SESSION
    pp_tty=$(tty 2>/dev/null | sed 's|^/dev/||; s|[^A-Za-z0-9]|_|g')
    pp_user=$(id -un 2>/dev/null | sed 's|[^A-Za-z0-9_-]|_|g')
    pp_fifo="${session.dir}/\${pp_user:-user}.\${pp_tty}.$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')"
    # umask, not mkfifo -m: -m sets the mode after creating, and the copy may take it in between.
    if command -v script >/dev/null 2>&1 && (umask 027 && mkfifo "$pp_fifo") 2>/dev/null; then
      pp_i=0
      while [ ! -p "$pp_fifo.taken" ] && [ "$pp_i" -lt 30 ]; do sleep 0.1; pp_i=$((pp_i + 1)); done
      if [ -p "$pp_fifo.taken" ]; then
        exec script -qf "$pp_fifo.taken"
      fi
      rm -f "$pp_fifo"
      echo "paranoid-pipes: this session is not logged: the logging copy did not answer" >&2
    fi
    unset pp_tty pp_user pp_fifo pp_i
    ;;
  esac
fi
`;
}
