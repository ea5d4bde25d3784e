import { eligibleInstances, type Balancer, type CommonBalancerOptions } from './balancer.js';
import { InvalidBalancerOptionError } from './errors.js';
import { usableWeight, type Instance } from './instance.js';

export interface WeightedRoundRobinOptions extends CommonBalancerOptions {
  /**
   * How many failures (reported through onFinish) take an instance's effective weight to zero,
   * as nginx's max_fails: each failure subtracts weight / maxFails. Default 1.
   */
  readonly maxFails?: number;
}

/**
 * nginx's smooth weighted round-robin. On every pick each candidate's `current` grows by its
 * effective weight, the largest `current` wins and gives back the total. Weights 5/1/1 give
 * a a b a c a a rather than a a a a a b c: the heavy instance's turns are spread out, so no
 * instance gets a burst of consecutive requests.
 *
 * Failures lower an instance's effective weight; it climbs back by one per pick up to the
 * configured weight, so a flaky instance gets less traffic for a while instead of none forever.
 */
export class WeightedRoundRobinBalancer implements Balancer {
  readonly strategy = 'weighted-round-robin';
  private readonly current = new Map<string, number>();
  /** Only instances whose effective weight is below their weight have an entry. */
  private readonly effective = new Map<string, number>();
  private readonly maxFails: number;

  constructor(private readonly options: WeightedRoundRobinOptions = {}) {
    const maxFails = options.maxFails ?? 1;
    if (!Number.isInteger(maxFails) || maxFails < 1) {
      throw new InvalidBalancerOptionError(
        `weighted-round-robin maxFails must be an integer >= 1, got ${String(options.maxFails)}`,
      );
    }
    this.maxFails = maxFails;
  }

  pick(instances: readonly Instance[]): Instance | undefined {
    const candidates = eligibleInstances(instances, this.options).filter((i) => usableWeight(i) > 0);
    if (candidates.length === 0) return undefined;
    this.restartOnMembershipChange(candidates);
    let total = 0;
    let best: Instance | undefined;
    let bestCurrent = -Infinity;
    for (const instance of candidates) {
      const weight = usableWeight(instance);
      const effective = Math.min(weight, this.effective.get(instance.id) ?? weight);
      const current = (this.current.get(instance.id) ?? 0) + effective;
      this.current.set(instance.id, current);
      total += effective;
      if (effective < weight) this.effective.set(instance.id, Math.min(weight, effective + 1));
      else this.effective.delete(instance.id);
      // Strictly greater: on a tie the earlier instance wins, as in nginx.
      if (current > bestCurrent) {
        best = instance;
        bestCurrent = current;
      }
    }
    this.current.set(best!.id, bestCurrent - total);
    return best;
  }

  onFinish(instance: Instance, ok: boolean): void {
    if (ok) return;
    const weight = usableWeight(instance);
    const effective = this.effective.get(instance.id) ?? weight;
    this.effective.set(instance.id, Math.max(0, effective - weight / this.maxFails));
  }

  /**
   * The `current` values always sum to zero over the set; when an instance leaves (or turns
   * unhealthy) with a large value, the rest would be skewed and one instance could get a burst
   * of consecutive picks. Like nginx on a configuration reload, start a fresh cycle instead.
   * Failure penalties survive, but only for instances still present.
   */
  private restartOnMembershipChange(candidates: readonly Instance[]): void {
    const unchanged =
      this.current.size === candidates.length &&
      candidates.every((instance) => this.current.has(instance.id));
    if (unchanged) return;
    this.current.clear();
    if (this.effective.size > 0) {
      const present = new Set(candidates.map((instance) => instance.id));
      for (const id of this.effective.keys()) if (!present.has(id)) this.effective.delete(id);
    }
  }
}
