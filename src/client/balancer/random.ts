import { eligibleInstances, type Balancer, type CommonBalancerOptions } from './balancer.js';
import { usableWeight, type Instance } from './instance.js';

export interface RandomOptions extends CommonBalancerOptions {
  /** A float in [0, 1). Inject a seeded generator for reproducible tests; Math.random by default. */
  readonly random?: () => number;
  /** Choose in proportion to weight instead of uniformly (default false). */
  readonly weighted?: boolean;
}

/** A uniformly (or weight-proportionally) random eligible instance. Stateless, so it never herds. */
export class RandomBalancer implements Balancer {
  readonly strategy = 'random';
  private readonly random: () => number;

  constructor(private readonly options: RandomOptions = {}) {
    this.random = options.random ?? Math.random;
  }

  pick(instances: readonly Instance[]): Instance | undefined {
    const candidates = eligibleInstances(instances, this.options);
    return this.options.weighted === true ? this.pickWeighted(candidates) : this.pickUniform(candidates);
  }

  private pickUniform(candidates: readonly Instance[]): Instance | undefined {
    if (candidates.length === 0) return undefined;
    return candidates[clampIndex(Math.floor(this.random() * candidates.length), candidates.length)];
  }

  private pickWeighted(candidates: readonly Instance[]): Instance | undefined {
    const weighted = candidates.filter((instance) => usableWeight(instance) > 0);
    const total = weighted.reduce((sum, instance) => sum + usableWeight(instance), 0);
    if (weighted.length === 0) return undefined;
    let remaining = this.random() * total;
    for (const instance of weighted) {
      remaining -= usableWeight(instance);
      if (remaining < 0) return instance;
    }
    // Floating-point rounding can leave a sliver past the last instance.
    return weighted[weighted.length - 1];
  }
}

/** A generator that returns exactly 1 (a broken one, or a test double) must not index past the end. */
function clampIndex(index: number, length: number): number {
  return Math.min(Math.max(index, 0), length - 1);
}
