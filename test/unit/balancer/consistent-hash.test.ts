import { describe, expect, it } from 'vitest';
import {
  ConsistentHashBalancer,
  HashRing,
  InvalidBalancerOptionError,
  makeInstance,
  MissingHashKeyError,
  murmur3,
  type Instance,
} from '../../../src/client/balancer/index.js';
import { instances } from './fixtures.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function owners(balancer: ConsistentHashBalancer, list: readonly Instance[]): string[] {
  return KEYS.map((key) => balancer.pick(list, { key })!.id);
}

function shares(assignment: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of assignment) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('consistent hashing with virtual nodes', () => {
  const ten = instances(10);

  // With V points per instance a share's relative deviation is about 1/sqrt(V) (8% for 160),
  // plus the sampling noise of 1 000 keys per instance (3%).
  it('spreads keys evenly: relative standard deviation of the shares under 15% with 160 replicas', () => {
    const counts = [...shares(owners(new ConsistentHashBalancer({ replicas: 160 }), ten)).values()];
    expect(counts).toHaveLength(10);
    const mean = KEYS.length / 10;
    const stddev = Math.sqrt(counts.reduce((sum, c) => sum + (c - mean) ** 2, 0) / counts.length);
    expect(stddev / mean).toBeLessThan(0.15);
    for (const count of counts) expect(Math.abs(count / mean - 1)).toBeLessThan(0.3);
  });

  it('adding an instance moves about 1/N of the keys, all of them to the newcomer', () => {
    const balancer = new ConsistentHashBalancer();
    const before = owners(balancer, ten);
    const eleven = [...ten, makeInstance({ id: 'k', host: '10.0.0.11', port: 8080 })];
    const after = owners(balancer, eleven);
    const moved = KEYS.filter((_, i) => before[i] !== after[i]).length;
    expect(moved / KEYS.length).toBeGreaterThan((1 / 11) * 0.7);
    expect(moved / KEYS.length).toBeLessThan((1 / 11) * 1.3);
    const movedElsewhere = KEYS.filter((_, i) => before[i] !== after[i] && after[i] !== 'k');
    expect(movedElsewhere).toEqual([]);
  });

  it('removing an instance moves only its own keys (about 1/N)', () => {
    const balancer = new ConsistentHashBalancer();
    const before = owners(balancer, ten);
    const after = owners(
      balancer,
      ten.filter((instance) => instance.id !== 'd'),
    );
    const moved = KEYS.filter((_, i) => before[i] !== after[i]);
    const ownedByD = KEYS.filter((_, i) => before[i] === 'd');
    expect(moved.length / KEYS.length).toBeGreaterThan(0.1 * 0.7);
    expect(moved.length / KEYS.length).toBeLessThan(0.1 * 1.3);
    expect(moved).toEqual(ownedByD);
  });

  it('treats an unhealthy instance as removed, and gives its keys back when it recovers', () => {
    const balancer = new ConsistentHashBalancer();
    const before = owners(balancer, ten);
    const sick = ten.map((instance) => (instance.id === 'd' ? { ...instance, healthy: false } : instance));
    const during = owners(balancer, sick);
    expect(during).not.toContain('d');
    expect(KEYS.filter((_, i) => before[i] !== 'd' && during[i] !== before[i])).toEqual([]);
    expect(owners(balancer, ten)).toEqual(before);
  });

  it('scales an instance’s share with its weight', () => {
    const list = instances(4, [{ weight: 2 }, {}, {}, {}]);
    const counts = shares(owners(new ConsistentHashBalancer(), list));
    const heavy = counts.get('a')! / KEYS.length;
    expect(heavy).toBeGreaterThan(0.4 * 0.85);
    expect(heavy).toBeLessThan(0.4 * 1.15);
  });

  it('maps a key the same way in a fresh balancer and in any list order', () => {
    const first = owners(new ConsistentHashBalancer(), ten);
    expect(owners(new ConsistentHashBalancer(), [...ten].reverse())).toEqual(first);
  });

  it('returns the instance object of this pick, with its current address', () => {
    const balancer = new ConsistentHashBalancer();
    const chosen = balancer.pick(ten, { key: 'session-1' })!;
    const moved = ten.map((instance) =>
      instance.id === chosen.id ? { ...instance, host: '10.9.9.9' } : instance,
    );
    expect(balancer.pick(moved, { key: 'session-1' })!.host).toBe('10.9.9.9');
  });

  it('returns undefined for an empty list, demands a key and validates replicas', () => {
    const balancer = new ConsistentHashBalancer();
    expect(balancer.pick([], { key: 'k' })).toBeUndefined();
    expect(() => balancer.pick(ten)).toThrow(MissingHashKeyError);
    expect(() => new ConsistentHashBalancer({ replicas: 0 })).toThrow(InvalidBalancerOptionError);
    expect(() => new ConsistentHashBalancer({ replicas: 2.5 })).toThrow(/replicas must be an integer/);
  });

  it('HashRing: wraps past the last point and has one point per virtual node', () => {
    const ring = new HashRing(
      [
        { id: 'x', virtualNodes: 3 },
        { id: 'y', virtualNodes: 5 },
      ],
      murmur3,
    );
    expect(ring.size).toBe(8);
    expect(new HashRing([], murmur3).ownerOf('k')).toBeUndefined();
    // A hash above every point belongs to the first point's owner.
    const single = new HashRing([{ id: 'only', virtualNodes: 1 }], () => 0xffffffff);
    expect(single.ownerOf('anything')).toBe('only');
  });
});
