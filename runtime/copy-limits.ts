/** Every bound of the running copy, with its reason. */
export const COPY_LIMITS = {
  /** A block is sealed after the pipe was idle this long: a lone line is on disk within ms. */
  idleFlushMs: 2,
  /** A burst is gathered at most this long after its first chunk (runtime/burst-pacer.ts): as the idle wait. */
  gatherMinMs: 2,
  /**
   * A shortest gather looks at the pipe this often and ends at the first look that finds nothing
   * new: a burst written at once is complete, a lone line waits only this long.
   */
  gatherQuietMs: 1,
  /** Single lines one after another gather up to this long: a line waits at most this. */
  gatherMaxMs: 6,
  /** A gather finding this much (half the pipe's 64 KiB buffer) is a flood: read continuously. */
  streamAfterBytes: 32 * 1024,
  /** In a flood, a short read waits this long for the writer to add more, then reads again (reading.ts). */
  floodTopUpMs: 0.3,
  /**
   * The flood's drain thread (runtime/drain-thread.ts). It parks after the pipe stayed empty this
   * long (a little longer than idleFlushMs, so a flood's short gaps do not hand the pipe back and
   * forth); naps this long after a read that emptied the pipe (at 140 MB/s writers add 28 KiB
   * meanwhile, well under the pipe's 64 KiB; a nap sized from the last read's rate measured
   * slower, as a writer held back by a full ring looks slow); wakes the loop once its ring holds
   * 64 KiB (or the pipe ran dry, or bytes waited 10 ms: well within maxBlockAgeMs, and never
   * reached in a real flood, where 64 KiB come in half a millisecond); and ends once parked this long.
   */
  drain: { quietMs: 5, napMs: 0.2, tellAtBytes: 64 * 1024, tellAfterMs: 10, endAfterMs: 10_000 },
  /** Under a steady trickle the pipe is never idle; seal at least this often. */
  maxBlockAgeMs: 50,
  /** How often the pipe path is checked: deleted or replaced, a fresh pipe is put back. */
  pipeCheckMs: 1000,
  /** A line without its newline yet waits this long for the rest before it is sealed as is. */
  partialLineWaitMs: 200,
  /** ~7 ms to seal with zlib level 1; big enough that the ~1 ms of public-key work per message is small in a flood. */
  maxBlockBytes: 1024 * 1024,
  /** Two batches are in memory at once (one appending, one sealing): part of --max-buffer. */
  maxBatchBytes: 2 * 1024 * 1024,
  /**
   * A watched file's lines a filter took out are accounted for (a `filtered` record carrying their
   * position) within this long, so --consume and the saved position move on without waiting for
   * the once-a-minute record; at most one extra record this often.
   */
  heldMarksFlushMs: 1000,
  /** Backpressure is reported at most this often. */
  backpressureReportMs: 10_000,
  retryMinMs: 100,
  retryMaxMs: 5000,
  /** At stop, a failing disk gets this many more tries before the copy exits non-zero. */
  stopAttempts: 10,
  /** At stop, unfinished rotations get this long; what is left is finished at the next start. */
  stopRotationWaitMs: 30_000,
} as const;
