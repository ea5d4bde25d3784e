import { describe, expect, it } from 'vitest';
import { LeastConnectionsBalancer } from '../../../src/client/balancer/index.js';
import { ids, instances } from './fixtures.js';

describe('least-connections', () => {
  it('prefers the idle instance', () => {
    const balancer = new LeastConnectionsBalancer();
    const [a, b, c] = instances(3);
    balancer.onStart(a!);
    balancer.onStart(a!);
    balancer.onStart(c!);
    expect(balancer.pick([a!, b!, c!])?.id).toBe('b');
    balancer.onStart(b!);
    balancer.onStart(b!);
    // a: 2, b: 2, c: 1
    expect(balancer.pick([a!, b!, c!])?.id).toBe('c');
  });

  it('sends work back to an instance once its requests finish', () => {
    const balancer = new LeastConnectionsBalancer();
    const [a, b] = instances(2);
    balancer.onStart(a!);
    expect(balancer.pick([a!, b!])?.id).toBe('b');
    balancer.onStart(b!);
    balancer.onStart(b!);
    balancer.onFinish(a!);
    expect(balancer.activeRequests('a')).toBe(0);
    expect(balancer.pick([a!, b!])?.id).toBe('a');
  });

  it('breaks ties round-robin instead of always choosing the first instance', () => {
    const balancer = new LeastConnectionsBalancer();
    const list = instances(3);
    expect(ids(Array.from({ length: 6 }, () => balancer.pick(list)))).toBe('a b c a b c');
  });

  it('simulated load: a request held open steers the next ones elsewhere', () => {
    const balancer = new LeastConnectionsBalancer();
    const list = instances(3);
    const slow = balancer.pick(list)!;
    balancer.onStart(slow); // never finishes
    for (let i = 0; i < 30; i++) {
      const chosen = balancer.pick(list)!;
      expect(chosen.id).not.toBe(slow.id);
      balancer.onStart(chosen);
      balancer.onFinish(chosen, true);
    }
  });

  it('does not count below zero on an unmatched onFinish', () => {
    const balancer = new LeastConnectionsBalancer();
    const [a, b] = instances(2);
    balancer.onFinish(a!);
    balancer.onFinish(a!);
    balancer.onStart(a!);
    expect(balancer.activeRequests('a')).toBe(1);
    expect(balancer.pick([a!, b!])?.id).toBe('b');
  });

  it('skips unhealthy instances even when they are idle, and returns undefined for none', () => {
    const balancer = new LeastConnectionsBalancer();
    const [a, b] = instances(2, [{}, { healthy: false }]);
    balancer.onStart(a!);
    expect(balancer.pick([a!, b!])?.id).toBe('a');
    expect(balancer.pick([b!])).toBeUndefined();
    expect(balancer.pick([])).toBeUndefined();
  });
});
