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

/**
 * While the copy reads a flood, the old generation may grow to four times what the last full
 * collection left alive before the next one starts (V8's `--heap-growing-percent`, read at every
 * collection). Its live heap is small (~11 MB), so V8's own limit left less slack than its young
 * generation holds and it began marking again right after each full collection: 30–50 full
 * collections per 146 MB flood, 24 % of the copy's CPU. Block bytes live outside the heap, so
 * this costs a flood ~15 MB of RSS; back at 0 (V8's own choice) once the flood is over.
 */
export function oldGenerationMayGrow(grow: boolean): void {
  if (grow === oldGrowing) return;
  oldGrowing = grow;
  setFlagsFromString(`--heap-growing-percent=${grow ? FLOOD_HEAP_GROWING_PERCENT : 0}`);
}

const FLOOD_HEAP_GROWING_PERCENT = 300;
let oldGrowing = false;
