import {
  eligibleInstances,
  type Balancer,
  type CommonBalancerOptions,
  type PickContext,
} from './balancer.js';
import { InvalidBalancerOptionError, MissingHashKeyError } from './errors.js';
import { defaultHash, type HashFunction } from './hash.js';
import { HashRing } from './hash-ring.js';
import { usableWeight, type Instance } from './instance.js';

export interface ConsistentHashOptions extends CommonBalancerOptions {
  /**
   * Ring points per unit of weight (default 160). More points spread keys more evenly (the
   * spread's relative deviation is about 1/sqrt(points)) at the cost of memory and build time.
   */
  readonly replicas?: number;
  /** Default: murmur3. */
  readonly hash?: HashFunction;
}

export const DEFAULT_REPLICAS = 160;
/** A bound on one instance's points, so an absurd weight cannot make the ring eat the heap. */
export const MAX_VIRTUAL_NODES_PER_INSTANCE = 16_384;

/**
 * Consistent hashing with virtual nodes: the same key keeps reaching the same instance, and a
 * change to the instance set moves only the keys of the instances that joined or left. An
 * instance's share is proportional to its weight (replicas × weight points). Unhealthy
 * instances are off the ring, so their keys spread over the rest and come back on recovery.
 *
 * The ring is rebuilt only when the eligible set (ids and weights) changes.
 */
export class ConsistentHashBalancer implements Balancer {
  readonly strategy = 'consistent-hash';
  private readonly replicas: number;
  private readonly hash: HashFunction;
  private ring: HashRing | undefined;
  /** The ids and weights the ring was built from, in the order they were listed. */
  private ringIds: readonly string[] = [];
  private ringWeights: readonly number[] = [];

  constructor(private readonly options: ConsistentHashOptions = {}) {
    const replicas = options.replicas ?? DEFAULT_REPLICAS;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_VIRTUAL_NODES_PER_INSTANCE) {
      throw new InvalidBalancerOptionError(
        `consistent-hash replicas must be an integer from 1 to ${MAX_VIRTUAL_NODES_PER_INSTANCE}, got ${String(options.replicas)}`,
      );
    }
    this.replicas = replicas;
    this.hash = options.hash ?? defaultHash;
  }

  pick(instances: readonly Instance[], context?: PickContext): Instance | undefined {
    const key = context?.key;
    if (key === undefined) {
      throw new MissingHashKeyError(
        'consistent-hash needs context.key (the client IP or a request key) to pick',
      );
    }
    const candidates = eligibleInstances(instances, this.options).filter((i) => usableWeight(i) > 0);
    if (candidates.length === 0) return undefined;
    const ownerId = this.ringFor(candidates).ownerOf(key);
    // The ring keeps ids, not objects: the instance returned carries this pick's host and metadata.
    return candidates.find((instance) => instance.id === ownerId);
  }

  /** Points `instance` gets on the ring. */
  virtualNodesFor(instance: Instance): number {
    const scaled = Math.round(this.replicas * usableWeight(instance));
    return Math.min(MAX_VIRTUAL_NODES_PER_INSTANCE, Math.max(1, scaled));
  }

  private ringFor(candidates: readonly Instance[]): HashRing {
    if (this.ring === undefined || !this.builtFrom(candidates)) {
      const members = candidates.map((i) => ({ id: i.id, virtualNodes: this.virtualNodesFor(i) }));
      this.ring = new HashRing(members, this.hash);
      this.ringIds = candidates.map((i) => i.id);
      this.ringWeights = candidates.map(usableWeight);
    }
    return this.ring;
  }

  /** Compared field by field rather than through a signature string: no allocation per pick. */
  private builtFrom(candidates: readonly Instance[]): boolean {
    if (candidates.length !== this.ringIds.length) return false;
    return candidates.every(
      (i, index) => i.id === this.ringIds[index] && usableWeight(i) === this.ringWeights[index],
    );
  }
}
