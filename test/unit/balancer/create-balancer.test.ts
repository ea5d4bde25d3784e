import { describe, expect, it } from 'vitest';
import {
  BALANCER_STRATEGIES,
  createBalancer,
  InvalidBalancerOptionError,
  isBalancerStrategy,
  type BalancerStrategy,
} from '../../../src/client/balancer/index.js';
import { instances } from './fixtures.js';

describe('createBalancer', () => {
  it('builds every strategy, each of which picks from a list and returns undefined for none', () => {
    for (const strategy of BALANCER_STRATEGIES) {
      const balancer = createBalancer(strategy);
      expect(balancer.strategy).toBe(strategy);
      expect(balancer.pick(instances(3), { key: '10.1.2.3' })).toBeDefined();
      expect(balancer.pick([], { key: '10.1.2.3' })).toBeUndefined();
      expect(
        balancer.pick(instances(2, [{ healthy: false }, { healthy: false }]), { key: 'k' }),
      ).toBeUndefined();
    }
  });

  it('passes options through to the strategy', () => {
    const balancer = createBalancer('random', { random: () => 0.99 });
    expect(balancer.pick(instances(4))?.id).toBe('d');
    const including = createBalancer('round-robin', { skipUnhealthy: false });
    expect(including.pick(instances(1, [{ healthy: false }]))?.id).toBe('a');
  });

  it('exposes the counting hooks only where they matter', () => {
    expect(createBalancer('least-connections').onStart).toBeTypeOf('function');
    expect(createBalancer('round-robin').onStart).toBeUndefined();
  });

  it('rejects an unknown strategy name with the list of valid ones', () => {
    expect(() => createBalancer('fastest' as BalancerStrategy)).toThrow(InvalidBalancerOptionError);
    expect(() => createBalancer('fastest' as BalancerStrategy)).toThrow(
      /use one of round-robin, weighted-round-robin/,
    );
    expect(isBalancerStrategy('ip-hash')).toBe(true);
    expect(isBalancerStrategy('fastest')).toBe(false);
  });
});
