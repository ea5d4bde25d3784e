import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer } from '../../../src/client/balancer/index.js';
import { ids, instances, tally } from './fixtures.js';

describe('round-robin', () => {
  it('visits every instance in turn', () => {
    const balancer = new RoundRobinBalancer();
    const list = instances(3);
    expect(ids(Array.from({ length: 7 }, () => balancer.pick(list)))).toBe('a b c a b c a');
  });

  it('spreads picks exactly evenly', () => {
    const balancer = new RoundRobinBalancer();
    const list = instances(7);
    const counts = tally(() => balancer.pick(list), 7 * 1_000);
    expect([...counts.values()]).toEqual(Array(7).fill(1_000));
  });

  it('skips unhealthy instances, and includes them when told not to skip', () => {
    const list = instances(3, [{}, { healthy: false }]);
    const skipping = new RoundRobinBalancer();
    expect(ids(Array.from({ length: 4 }, () => skipping.pick(list)))).toBe('a c a c');
    const including = new RoundRobinBalancer({ skipUnhealthy: false });
    expect(ids(Array.from({ length: 3 }, () => including.pick(list)))).toBe('a b c');
  });

  it('returns undefined for an empty or all-unhealthy list', () => {
    const balancer = new RoundRobinBalancer();
    expect(balancer.pick([])).toBeUndefined();
    expect(balancer.pick(instances(2, [{ healthy: false }, { healthy: false }]))).toBeUndefined();
  });

  it('keeps going when the list shrinks under its cursor', () => {
    const balancer = new RoundRobinBalancer();
    balancer.pick(instances(5));
    balancer.pick(instances(5));
    balancer.pick(instances(5));
    const picked = Array.from({ length: 4 }, () => balancer.pick(instances(2)));
    expect(picked.every((instance) => instance !== undefined)).toBe(true);
    expect(ids(picked)).toMatch(/^(a b a b|b a b a)$/);
  });
});
