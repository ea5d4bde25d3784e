/** How long and how big each workload is: the full run, or --quick (under a minute per store). */

export interface BenchProfile {
  readonly name: 'full' | 'quick';
  /** Puts at 16 in flight before anything is measured (connections, JIT, caches). */
  readonly warmupMs: number;
  /** Per level: a short unmeasured ramp, then the measured window. */
  readonly levelWarmupMs: number;
  readonly levelDurationMs: number;
  readonly putLevels: readonly number[];
  readonly readConcurrency: number;
  /** Keys the get rows read from (written once before). */
  readonly readKeys: number;
  /** Sequential put → watch event round trips, per watcher placement. */
  readonly watchLatencyMs: number;
  readonly fanoutWatchers: number;
  readonly fanoutWriters: number;
  readonly fanoutDurationMs: number;
  readonly failoverTrials: number;
  /** Trials of each election failover row (coordination group); the rows report medians. */
  readonly electionTrials: number;
  readonly restartKeys: number;
  /**
   * How long after the load the memory is read again (null: not at all). A Node process gives
   * garbage back only after a major GC, which V8 starts on its own once allocation slows down.
   */
  readonly memoryQuietMs: number | null;
  readonly valueBytes: number;
}

export const FULL_PROFILE: BenchProfile = {
  name: 'full',
  // Node's JIT needs 5-10 s of load before CPU per put settles (about half the cold cost);
  // both stores get the same warm-up, so the first row does not measure cold code.
  warmupMs: 10_000,
  levelWarmupMs: 1_000,
  levelDurationMs: 8_000,
  putLevels: [1, 16, 64, 256],
  readConcurrency: 64,
  readKeys: 1_000,
  watchLatencyMs: 5_000,
  fanoutWatchers: 100,
  fanoutWriters: 16,
  fanoutDurationMs: 5_000,
  failoverTrials: 3,
  electionTrials: 3,
  restartKeys: 100_000,
  memoryQuietMs: 30_000,
  valueBytes: 256,
};

export const QUICK_PROFILE: BenchProfile = {
  name: 'quick',
  warmupMs: 500,
  levelWarmupMs: 200,
  levelDurationMs: 1_200,
  putLevels: [1, 16, 64, 256],
  readConcurrency: 64,
  readKeys: 200,
  watchLatencyMs: 1_000,
  fanoutWatchers: 100,
  fanoutWriters: 16,
  fanoutDurationMs: 1_200,
  failoverTrials: 1,
  electionTrials: 1,
  restartKeys: 5_000,
  memoryQuietMs: null,
  valueBytes: 256,
};
