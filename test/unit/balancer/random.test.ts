import { describe, expect, it } from 'vitest';
import { RandomBalancer } from '../../../src/client/balancer/index.js';
import { SeededRandom } from '../../../src/common/prng.js';
import { instances, tally } from './fixtures.js';

/** Pearson's chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((sum, count, i) => sum + (count - expected[i]!) ** 2 / expected[i]!, 0);
}

describe('random', () => {
  it('is uniform: chi-square over 100k seeded picks is below the p = 0.001 critical value', () => {
    const rng = new SeededRandom(42);
    const balancer = new RandomBalancer({ random: () => rng.next() });
    const list = instances(5);
    const picks = 100_000;
    const counts = tally(() => balancer.pick(list), picks);
    const observed = list.map((instance) => counts.get(instance.id) ?? 0);
    // 4 degrees of freedom: 18.47 at p = 0.001.
    expect(chiSquare(observed, Array(5).fill(picks / 5))).toBeLessThan(18.47);
    for (const count of observed) expect(Math.abs(count / (picks / 5) - 1)).toBeLessThan(0.05);
  });

  it('with weighted: true, picks in proportion to weight', () => {
    const rng = new SeededRandom(7);
    const balancer = new RandomBalancer({ random: () => rng.next(), weighted: true });
    const list = instances(4, [{ weight: 1 }, { weight: 2 }, { weight: 3 }, { weight: 4 }, { weight: 0 }]);
    const picks = 100_000;
    const counts = tally(() => balancer.pick(list), picks);
    const expected = [0.1, 0.2, 0.3, 0.4].map((share) => share * picks);
    const observed = list.map((instance) => counts.get(instance.id) ?? 0);
    expect(chiSquare(observed, expected)).toBeLessThan(16.27); // 3 dof, p = 0.001
  });

  it('is reproducible for a seed', () => {
    const draw = (seed: number) => {
      const rng = new SeededRandom(seed);
      const balancer = new RandomBalancer({ random: () => rng.next() });
      return Array.from({ length: 20 }, () => balancer.pick(instances(6))!.id).join('');
    };
    expect(draw(1)).toBe(draw(1));
    expect(draw(1)).not.toBe(draw(2));
  });

  it('stays in bounds when the generator returns its extremes (even an out-of-contract 1)', () => {
    const list = instances(3);
    expect(new RandomBalancer({ random: () => 0 }).pick(list)?.id).toBe('a');
    expect(new RandomBalancer({ random: () => 0.999_999_9 }).pick(list)?.id).toBe('c');
    expect(new RandomBalancer({ random: () => 1 }).pick(list)?.id).toBe('c');
    expect(new RandomBalancer({ random: () => 1, weighted: true }).pick(list)?.id).toBe('c');
  });

  it('never picks an unhealthy instance; undefined when none is eligible', () => {
    const rng = new SeededRandom(3);
    const balancer = new RandomBalancer({ random: () => rng.next() });
    const list = instances(3, [{ healthy: false }, {}, { healthy: false }]);
    expect(new Set(Array.from({ length: 200 }, () => balancer.pick(list)!.id))).toEqual(new Set(['b']));
    expect(balancer.pick([])).toBeUndefined();
    expect(balancer.pick([list[0]!])).toBeUndefined();
  });
});
