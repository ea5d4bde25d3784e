import type { SeededRandom } from '../../src/common/prng.js';

/**
 * Per-seed fault and workload settings (TigerBeetle's swarm testing): every seed draws its own
 * mix, so some runs are calm and others hostile in one particular way.
 */
export interface SwarmOptions {
  readonly voters: 3 | 5;
  /** Nodes started empty that membership changes can add. */
  readonly spares: number;
  readonly tickMs: number;
  readonly chaosTicks: number;
  readonly livenessTicks: number;
  readonly messageLoss: number;
  readonly messageDuplication: number;
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  readonly diskDelayMaxMs: number;
  /** Per-tick probabilities of nemesis actions. */
  readonly partitionChance: number;
  readonly healChance: number;
  readonly crashChance: number;
  readonly restartChance: number;
  readonly proposeChance: number;
  readonly readChance: number;
  readonly confChangeChance: number;
  readonly transferChance: number;
  /** Applied entries between local snapshots. */
  readonly snapshotInterval: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Flow control: small caps exercise batching limits and the in-flight window. */
  readonly maxAppendBytes: number;
  readonly maxInflightMessages: number;
}

export function swarmOptions(rng: SeededRandom, overrides: Partial<SwarmOptions> = {}): SwarmOptions {
  const hostile = rng.chance(0.7);
  const options: SwarmOptions = {
    voters: rng.chance(0.5) ? 3 : 5,
    spares: rng.chance(0.6) ? 2 : 0,
    tickMs: 10,
    chaosTicks: 3000,
    livenessTicks: 1000,
    messageLoss: hostile ? rng.pick([0, 0.01, 0.05, 0.15, 0.3]) : 0,
    messageDuplication: rng.pick([0, 0, 0.01, 0.05]),
    delayMinMs: 1,
    delayMaxMs: rng.pick([2, 5, 15, 40]),
    diskDelayMaxMs: rng.pick([0, 1, 3, 8, 40]),
    partitionChance: hostile ? rng.pick([0, 0.002, 0.01, 0.03]) : 0,
    healChance: rng.pick([0.01, 0.03, 0.1]),
    crashChance: hostile ? rng.pick([0, 0.001, 0.005, 0.02]) : 0,
    restartChance: rng.pick([0.01, 0.05, 0.2]),
    proposeChance: rng.pick([0.1, 0.5, 1, 2]),
    readChance: rng.pick([0, 0.1, 0.5]),
    confChangeChance: rng.pick([0, 0, 0.002, 0.01]),
    transferChance: rng.pick([0, 0, 0.002, 0.01]),
    snapshotInterval: rng.pick([8, 30, 100, 1000]),
    preVote: true,
    checkQuorum: true,
    maxAppendBytes: rng.pick([256, 4096, 1024 * 1024]),
    maxInflightMessages: rng.pick([2, 4, 64]),
  };
  return { ...options, ...overrides };
}
