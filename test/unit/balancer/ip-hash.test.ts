import { describe, expect, it } from 'vitest';
import { IpHashBalancer, makeInstance, MissingHashKeyError } from '../../../src/client/balancer/index.js';
import { instances, ipKeys, tally } from './fixtures.js';

describe('ip-hash', () => {
  it('sends the same key to the same instance every time, whatever order the list comes in', () => {
    const balancer = new IpHashBalancer();
    const list = instances(5);
    const reversed = [...list].reverse();
    for (const key of ipKeys(200)) {
      const first = balancer.pick(list, { key })!.id;
      expect(balancer.pick(list, { key })!.id).toBe(first);
      expect(balancer.pick(reversed, { key })!.id).toBe(first);
    }
  });

  it('spreads many keys roughly evenly', () => {
    const balancer = new IpHashBalancer();
    const list = instances(5);
    const keys = ipKeys(10_000);
    let next = 0;
    const counts = tally(() => balancer.pick(list, { key: keys[next++]! }), keys.length);
    for (const count of counts.values()) expect(Math.abs(count / 2_000 - 1)).toBeLessThan(0.05);
  });

  it('moves only the keys of an instance that turns unhealthy, and brings them back on recovery', () => {
    const balancer = new IpHashBalancer();
    const list = instances(5);
    const sick = list.map((instance) => (instance.id === 'c' ? { ...instance, healthy: false } : instance));
    for (const key of ipKeys(1_000)) {
      const home = balancer.pick(list, { key })!.id;
      const meanwhile = balancer.pick(sick, { key })!.id;
      expect(meanwhile).not.toBe('c');
      if (home !== 'c') expect(meanwhile).toBe(home);
      expect(balancer.pick(list, { key })!.id).toBe(home);
    }
  });

  it('still finds the one healthy instance when nearly all are down', () => {
    const balancer = new IpHashBalancer();
    const list = instances(26).map((instance) => ({ ...instance, healthy: instance.id === 'q' }));
    for (const key of ipKeys(100)) expect(balancer.pick(list, { key })!.id).toBe('q');
  });

  it('returns undefined when nothing is eligible, and demands a key', () => {
    const balancer = new IpHashBalancer();
    expect(balancer.pick([], { key: '10.0.0.1' })).toBeUndefined();
    expect(
      balancer.pick([makeInstance({ id: 'x', host: 'h', port: 1, healthy: false })], { key: 'k' }),
    ).toBeUndefined();
    expect(() => balancer.pick(instances(2))).toThrow(MissingHashKeyError);
    expect(() => balancer.pick(instances(2), {})).toThrow(/needs context.key/);
  });
});
