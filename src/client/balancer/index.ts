/**
 * Client-side load balancing over a service's instances. See docs/load-balancing.md.
 */
export type { Balancer, BalancerStrategy, CommonBalancerOptions, PickContext } from './balancer.js';
export { eligibleInstances } from './balancer.js';
export { BALANCER_STRATEGIES, createBalancer, isBalancerStrategy } from './create-balancer.js';
export type { BalancerOptionsByStrategy } from './create-balancer.js';
export {
  ConsistentHashBalancer,
  DEFAULT_REPLICAS,
  MAX_VIRTUAL_NODES_PER_INSTANCE,
} from './consistent-hash.js';
export type { ConsistentHashOptions } from './consistent-hash.js';
export { InvalidBalancerOptionError, MissingHashKeyError } from './errors.js';
export { defaultHash, fnv1a32, murmur3 } from './hash.js';
export type { HashFunction } from './hash.js';
export { HashRing } from './hash-ring.js';
export type { RingMember } from './hash-ring.js';
export { makeInstance, usableWeight } from './instance.js';
export type { Instance, InstanceInit } from './instance.js';
export { IpHashBalancer } from './ip-hash.js';
export type { IpHashOptions } from './ip-hash.js';
export { LeastConnectionsBalancer } from './least-connections.js';
export { RandomBalancer } from './random.js';
export type { RandomOptions } from './random.js';
export { RoundRobinBalancer } from './round-robin.js';
export { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
export type { WeightedRoundRobinOptions } from './weighted-round-robin.js';
