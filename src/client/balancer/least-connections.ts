import { eligibleInstances, type Balancer, type CommonBalancerOptions } from './balancer.js';
import type { Instance } from './instance.js';

/**
 * The instance with the fewest requests in flight, as counted by the caller through onStart and
 * onFinish. Among equally busy instances the scan starts one further along on every pick, so
 * ties rotate round-robin instead of always landing on the first instance listed — which would
 * otherwise take every request while the client is idle between requests.
 */
export class LeastConnectionsBalancer implements Balancer {
  readonly strategy = 'least-connections';
  /** Only instances with work in flight have an entry. */
  private readonly inFlight = new Map<string, number>();
  private cursor = 0;

  constructor(private readonly options: CommonBalancerOptions = {}) {}

  pick(instances: readonly Instance[]): Instance | undefined {
    const candidates = eligibleInstances(instances, this.options);
    if (candidates.length === 0) return undefined;
    const start = this.cursor % candidates.length;
    this.cursor = (start + 1) % candidates.length;
    let best: Instance | undefined;
    let fewest = Infinity;
    for (let offset = 0; offset < candidates.length; offset++) {
      const instance = candidates[(start + offset) % candidates.length]!;
      const count = this.inFlight.get(instance.id) ?? 0;
      if (count < fewest) {
        best = instance;
        fewest = count;
      }
    }
    return best;
  }

  onStart(instance: Instance): void {
    this.inFlight.set(instance.id, this.activeRequests(instance.id) + 1);
  }

  onFinish(instance: Instance, _ok?: boolean): void {
    const remaining = this.activeRequests(instance.id) - 1;
    // Never below zero: an unmatched onFinish must not make an instance look extra idle.
    if (remaining > 0) this.inFlight.set(instance.id, remaining);
    else this.inFlight.delete(instance.id);
  }

  /** Requests to `instanceId` started and not yet finished. */
  activeRequests(instanceId: string): number {
    return this.inFlight.get(instanceId) ?? 0;
  }
}
