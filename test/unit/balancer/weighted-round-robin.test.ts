import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeightedRoundRobinBalancer } from '../../../src/client/balancer/index.js';
import { ids, instances, tally } from './fixtures.js';

describe('smooth weighted round-robin', () => {
  it('spreads weights 5/1/1 as nginx does: a a b a c a a, every 7 picks', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const list = instances(3, [{ weight: 5 }, { weight: 1 }, { weight: 1 }]);
    const picks = Array.from({ length: 21 }, () => balancer.pick(list));
    expect(ids(picks)).toBe(Array(3).fill('a a b a c a a').join(' '));
  });

  it('gives exact proportions over many picks', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const list = instances(4, [{ weight: 4 }, { weight: 3 }, { weight: 2 }, { weight: 1 }]);
    const counts = tally(() => balancer.pick(list), 10 * 10_000);
    expect(Object.fromEntries(counts)).toEqual({ a: 40_000, b: 30_000, c: 20_000, d: 10_000 });
  });

  it('for any integer weights, one cycle of sum(weights) picks gives each instance exactly its weight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }), (weights) => {
        const balancer = new WeightedRoundRobinBalancer();
        const list = instances(
          weights.length,
          weights.map((weight) => ({ weight })),
        );
        const total = weights.reduce((sum, weight) => sum + weight, 0);
        const counts = tally(() => balancer.pick(list), total);
        expect(list.map((instance) => counts.get(instance.id) ?? 0)).toEqual(weights);
      }),
      { seed: 20240601, numRuns: 200 },
    );
  });

  it('never picks a zero-weight (drained) instance or one with a nonsensical weight', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const list = instances(4, [{ weight: 0 }, { weight: 2 }, { weight: -3 }, { weight: Number.NaN }]);
    const counts = tally(() => balancer.pick(list), 100);
    expect(Object.fromEntries(counts)).toEqual({ b: 100 });
    expect(balancer.pick(instances(1, [{ weight: 0 }]))).toBeUndefined();
  });

  it('skips unhealthy instances and returns undefined for an empty list', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const list = instances(3, [{ weight: 5, healthy: false }, { weight: 1 }, { weight: 1 }]);
    expect(ids(Array.from({ length: 4 }, () => balancer.pick(list)))).toBe('b c b c');
    expect(balancer.pick([])).toBeUndefined();
  });

  it('lowers the effective weight of an instance that failed, then lets it climb back', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const list = instances(2, [{ weight: 10 }, { weight: 10 }]);
    balancer.onFinish(list[0]!, false);
    const afterFailure = tally(() => balancer.pick(list), 10);
    expect(afterFailure.get('b')).toBeGreaterThan(afterFailure.get('a') ?? 0);
    // Recovered: back to an even split over the next full cycles.
    const later = tally(() => balancer.pick(list), 2_000);
    expect(Math.abs((later.get('a') ?? 0) - (later.get('b') ?? 0))).toBeLessThanOrEqual(20);
  });

  it('starts a fresh, smooth cycle when the set changes instead of bursting one instance', () => {
    const balancer = new WeightedRoundRobinBalancer();
    const three = instances(3, [{ weight: 5 }, { weight: 1 }, { weight: 1 }]);
    for (let i = 0; i < 3; i++) balancer.pick(three);
    const two = three.slice(1);
    expect(ids(Array.from({ length: 4 }, () => balancer.pick(two)))).toBe('b c b c');
    expect(ids(Array.from({ length: 7 }, () => balancer.pick(three)))).toBe('a a b a c a a');
  });

  it('rejects a maxFails that is not a positive integer', () => {
    expect(() => new WeightedRoundRobinBalancer({ maxFails: 0 })).toThrow(/maxFails must be an integer >= 1/);
  });
});
