import type { Random } from '../raft/config.js';

/**
 * A small, fast, seedable PRNG (SplitMix32 state stepping with a Mulberry-style output mix).
 * The simulator derives every random choice from one of these, so a seed replays a run exactly.
 */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** A child generator with its own stream, so adding draws in one place does not shift another. */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 4294967296) ^ 0x9e3779b9);
  }
}
