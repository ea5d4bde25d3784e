import { eligibleInstances, type Balancer, type CommonBalancerOptions } from './balancer.js';
import type { Instance } from './instance.js';

/**
 * Each eligible instance in turn, in the order discovery lists them. The cursor is kept modulo
 * the list length it last saw, so it stays small and a shrinking list cannot push it past the end.
 */
export class RoundRobinBalancer implements Balancer {
  readonly strategy = 'round-robin';
  private cursor = 0;

  constructor(private readonly options: CommonBalancerOptions = {}) {}

  pick(instances: readonly Instance[]): Instance | undefined {
    const candidates = eligibleInstances(instances, this.options);
    if (candidates.length === 0) return undefined;
    const index = this.cursor % candidates.length;
    this.cursor = (index + 1) % candidates.length;
    return candidates[index];
  }
}
