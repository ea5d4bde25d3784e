/**
 * One registered instance of a service, as discovery hands it to a balancer. The registry owns
 * the data; balancers only read it.
 */
export interface Instance {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Relative share for weighted strategies; 0 (or anything not a positive number) drains it. */
  readonly weight: number;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly healthy: boolean;
}

export type InstanceInit = Pick<Instance, 'id' | 'host' | 'port'> &
  Partial<Pick<Instance, 'weight' | 'tags' | 'metadata' | 'healthy'>>;

/** An Instance with the defaults filled in: weight 1, no tags, no metadata, healthy. */
export function makeInstance(init: InstanceInit): Instance {
  return {
    id: init.id,
    host: init.host,
    port: init.port,
    weight: init.weight ?? 1,
    tags: init.tags ?? [],
    metadata: init.metadata ?? {},
    healthy: init.healthy ?? true,
  };
}

/**
 * The weight a weighted strategy uses. Instances come from the network, so a NaN, negative or
 * infinite weight must not poison the arithmetic of every other instance: it counts as 0.
 */
export function usableWeight(instance: Instance): number {
  const weight = instance.weight;
  return Number.isFinite(weight) && weight > 0 ? weight : 0;
}
