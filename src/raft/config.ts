/** Randomness is injected so the core stays deterministic under a seed. */
export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

export interface RaftConfig {
  /** Ticks a follower waits without hearing from a leader before it campaigns (randomized up to 2x). */
  readonly electionTicks: number;
  /** Ticks between a leader's heartbeats. Must be smaller than electionTicks. */
  readonly heartbeatTicks: number;
  /** Run a PreVote round before a real election, so a partitioned node cannot disrupt a healthy leader. */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down. */
  readonly checkQuorum: boolean;
  /** Cap on append messages in flight to one follower in the replicate state (pipelining depth). */
  readonly maxInflightMessages: number;
  /** Cap on entry bytes in flight to one follower. */
  readonly maxInflightBytes: number;
  /** Upper bound of entry bytes in one append message (at least one entry is always sent). */
  readonly maxAppendBytes: number;
  /** Ticks a leader waits for a follower to acknowledge a snapshot before it retries. */
  readonly snapshotRetryTicks: number;
}

export const defaultRaftConfig: RaftConfig = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxAppendBytes: 1024 * 1024,
  snapshotRetryTicks: 30,
};

export function validateRaftConfig(config: RaftConfig): void {
  const positive: (keyof RaftConfig)[] = [
    'electionTicks',
    'heartbeatTicks',
    'maxInflightMessages',
    'maxInflightBytes',
    'maxAppendBytes',
    'snapshotRetryTicks',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new RangeError(`raft config ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (config.heartbeatTicks >= config.electionTicks) {
    throw new RangeError(
      `raft config heartbeatTicks (${config.heartbeatTicks}) must be smaller than electionTicks (${config.electionTicks})`,
    );
  }
}
