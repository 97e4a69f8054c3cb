import { setFlagsFromString } from 'node:v8';

/**
 * V8 doubles its young generation (up to 32 MiB here) whenever a scavenge finds much alive, and
 * seldom gives it back: under a steady trickle that alone added ~15 MB to the copy's RSS within
 * a minute. A trickle's young objects are few and short-lived (block bytes live outside the
 * heap), so the starting size does for them. A flood allocates faster, and a young generation
 * held small cost it ~8 % more CPU in scavenges: it may grow while the copy reads continuously.
 *
 * V8 reads this flag each time it considers growing, so setting it after start-up takes
 * effect; the heap's other sizes are fixed at start and could only come from the command line.
 */
export function youngGenerationMayGrow(grow: boolean): void {
  if (grow === growing) return;
  growing = grow;
  setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
}

/** V8's default. */
let growing = true;
