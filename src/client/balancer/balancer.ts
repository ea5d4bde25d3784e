import type { Instance } from './instance.js';

export type BalancerStrategy =
  'round-robin' | 'weighted-round-robin' | 'least-connections' | 'random' | 'ip-hash' | 'consistent-hash';

export interface PickContext {
  /** What hashing strategies hash: the client's IP, a user id, a request key. */
  readonly key?: string | undefined;
}

/**
 * Chooses one instance per request. The instance list is passed on every pick rather than held,
 * because discovery replaces it whenever the registry changes; strategies that keep state
 * (cursors, counters, rings) key it by instance id and tolerate the list changing under them.
 */
export interface Balancer {
  readonly strategy: BalancerStrategy;
  /** The instance for this request, or undefined when no instance is eligible. */
  pick(instances: readonly Instance[], context?: PickContext): Instance | undefined;
  /** A request to `instance` started (strategies that count in-flight work). */
  onStart?(instance: Instance): void;
  /** A request to `instance` ended; `ok` is false when it failed. */
  onFinish?(instance: Instance, ok: boolean): void;
}

export interface CommonBalancerOptions {
  /** Leave instances whose `healthy` is false out of every pick (default true). */
  readonly skipUnhealthy?: boolean;
}

/** The instances a pick may choose from, in the order given. */
export function eligibleInstances(
  instances: readonly Instance[],
  options: CommonBalancerOptions,
): readonly Instance[] {
  if (options.skipUnhealthy === false) return instances;
  return instances.every((instance) => instance.healthy)
    ? instances
    : instances.filter((instance) => instance.healthy);
}

export function isEligible(instance: Instance, options: CommonBalancerOptions): boolean {
  return options.skipUnhealthy === false || instance.healthy;
}
