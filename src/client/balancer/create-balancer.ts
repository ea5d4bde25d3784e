import type { Balancer, BalancerStrategy, CommonBalancerOptions } from './balancer.js';
import { ConsistentHashBalancer, type ConsistentHashOptions } from './consistent-hash.js';
import { InvalidBalancerOptionError } from './errors.js';
import { IpHashBalancer, type IpHashOptions } from './ip-hash.js';
import { LeastConnectionsBalancer } from './least-connections.js';
import { RandomBalancer, type RandomOptions } from './random.js';
import { RoundRobinBalancer } from './round-robin.js';
import { WeightedRoundRobinBalancer, type WeightedRoundRobinOptions } from './weighted-round-robin.js';

export interface BalancerOptionsByStrategy {
  'round-robin': CommonBalancerOptions;
  'weighted-round-robin': WeightedRoundRobinOptions;
  'least-connections': CommonBalancerOptions;
  random: RandomOptions;
  'ip-hash': IpHashOptions;
  'consistent-hash': ConsistentHashOptions;
}

export const BALANCER_STRATEGIES: readonly BalancerStrategy[] = [
  'round-robin',
  'weighted-round-robin',
  'least-connections',
  'random',
  'ip-hash',
  'consistent-hash',
];

export function isBalancerStrategy(name: string): name is BalancerStrategy {
  return (BALANCER_STRATEGIES as readonly string[]).includes(name);
}

/**
 * A fresh balancer for `strategy`. Each call returns independent state (cursor, counters,
 * ring), so use one balancer per service rather than one per request.
 */
export function createBalancer<S extends BalancerStrategy>(
  strategy: S,
  options: BalancerOptionsByStrategy[S] = {},
): Balancer {
  // The union of option types is safe here: each constructor reads only its own fields.
  const anyOptions = options as BalancerOptionsByStrategy[BalancerStrategy];
  switch (strategy as BalancerStrategy) {
    case 'round-robin':
      return new RoundRobinBalancer(anyOptions);
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer(anyOptions);
    case 'least-connections':
      return new LeastConnectionsBalancer(anyOptions);
    case 'random':
      return new RandomBalancer(anyOptions);
    case 'ip-hash':
      return new IpHashBalancer(anyOptions);
    case 'consistent-hash':
      return new ConsistentHashBalancer(anyOptions);
    default:
      // Reachable from configuration files and the CLI, where the name is an unchecked string.
      throw new InvalidBalancerOptionError(
        `unknown load-balancing strategy ${JSON.stringify(strategy)}; use one of ${BALANCER_STRATEGIES.join(', ')}`,
      );
  }
}
