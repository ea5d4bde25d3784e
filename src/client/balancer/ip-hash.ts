import { isEligible, type Balancer, type CommonBalancerOptions, type PickContext } from './balancer.js';
import { MissingHashKeyError } from './errors.js';
import { defaultHash, type HashFunction } from './hash.js';
import type { Instance } from './instance.js';

export interface IpHashOptions extends CommonBalancerOptions {
  /** Default: murmur3. */
  readonly hash?: HashFunction;
}

/** How many re-hashes to try when the home instance is ineligible (nginx's ip_hash uses 20). */
const MAX_REHASHES = 20;

/**
 * hash(key) modulo the instance count. The modulus is taken over ALL listed instances, sorted by
 * id, not only the healthy ones: when one instance turns unhealthy only its own keys move (to a
 * re-hash), and they come back when it recovers. Sorting makes the mapping independent of the
 * order discovery happens to list instances in. Adding or removing an instance remaps most keys;
 * use consistent-hash when that matters.
 */
export class IpHashBalancer implements Balancer {
  readonly strategy = 'ip-hash';
  private readonly hash: HashFunction;

  constructor(private readonly options: IpHashOptions = {}) {
    this.hash = options.hash ?? defaultHash;
  }

  pick(instances: readonly Instance[], context?: PickContext): Instance | undefined {
    const key = context?.key;
    if (key === undefined) {
      throw new MissingHashKeyError('ip-hash needs context.key (the client IP or a request key) to pick');
    }
    if (instances.length === 0) return undefined;
    const ordered = [...instances].sort(byId);
    let hash = this.hash(key);
    for (let attempt = 0; attempt <= MAX_REHASHES; attempt++) {
      const home = ordered[hash % ordered.length]!;
      if (isEligible(home, this.options)) return home;
      hash = this.hash(`${attempt}\u0000${key}`);
    }
    // Nearly everything is ineligible: fall back to a deterministic pick among what is left.
    const eligible = ordered.filter((instance) => isEligible(instance, this.options));
    return eligible.length === 0 ? undefined : eligible[this.hash(key) % eligible.length];
  }
}

function byId(a: Instance, b: Instance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
