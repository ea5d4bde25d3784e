/**
 * Client-side service discovery: a watch-fed cache of one service's instances, a load balancer
 * to pick one per request, and `call()` — retries with backoff across instances, with one
 * circuit breaker per instance and in-flight requests counted here (for least-connections).
 *
 *   const api = client.discovery('api', { strategy: 'least-connections', filters: { tags: ['v2'] } });
 *   await api.ready();
 *   const answer = await api.call((instance) => fetchFrom(instance.host, instance.port));
 *
 * The cache starts from a Discover snapshot and follows the registry's keys with a resumable
 * watch, so a registration, a health change or a deregistration reaches it in about one round
 * trip, and a failover of the cluster neither loses nor repeats a change.
 */
import { EventEmitter } from 'node:events';
import { fullJitterDelayMs, type RetryPolicy } from './backoff.js';
import {
  createBalancer,
  type Balancer,
  type BalancerOptionsByStrategy,
  type BalancerStrategy,
  type PickContext,
} from './balancer/index.js';
import { CircuitBreakers, type CircuitBreakerOptions, type CircuitPermit } from './circuit-breaker.js';
import { RaftreeError } from './errors.js';
import { matchesFilter, type DiscoverFilter } from '../registry/model.js';
import {
  ServiceWatch,
  type RegisteredInstance,
  type RegistryDeps,
  type ServiceWatchEvent,
} from './registry.js';

export interface DiscoveryOptions<S extends BalancerStrategy = BalancerStrategy> {
  /** How to pick an instance (default 'round-robin'). */
  readonly strategy?: S;
  /** Options of that strategy (virtual nodes for consistent-hash, a seed for random, ...). */
  readonly balancer?: BalancerOptionsByStrategy[S];
  /** Which instances qualify: all of these tags, these metadata entries, and (default) healthy only. */
  readonly filters?: Omit<DiscoverFilter, 'limit'>;
  /** One breaker per instance (defaults of src/client/circuit-breaker.ts), or false for none. */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** call(): attempts across instances and the backoff between them (default 3 attempts, 50-1000 ms). */
  readonly retry?: Partial<RetryPolicy>;
}

export interface DiscoveryCallOptions {
  /** What hashing strategies (ip-hash, consistent-hash) hash: a client IP, a user id... */
  readonly key?: string;
  /** Overrides the discovery's retry.maxAttempts for this call. */
  readonly maxAttempts?: number;
  /**
   * Whether an error counts against the instance (its breaker) and is worth retrying elsewhere.
   * Default: every error. Return false for answers such as "not found" from a healthy instance.
   */
  readonly isFailure?: (error: unknown) => boolean;
}

export interface ServiceDiscoveryEvents {
  /** The qualifying instances changed (registered, health changed, deregistered). */
  change: [instances: readonly RegisteredInstance[]];
  /** The watch had a problem and is starting over (emitted only when someone listens). */
  error: [error: Error];
  close: [];
}

const NO_BREAKER: CircuitPermit = { succeeded: () => undefined, failed: () => undefined };
const DEFAULT_CALL_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1_000 };

export class ServiceDiscovery extends EventEmitter<ServiceDiscoveryEvents> {
  readonly name: string;
  readonly strategy: BalancerStrategy;
  private readonly balancer: Balancer;
  private readonly breakers: CircuitBreakers | null;
  private readonly filter: DiscoverFilter;
  private readonly retry: RetryPolicy;
  private readonly watch: ServiceWatch;
  private readonly byId = new Map<string, RegisteredInstance>();
  private qualifying: RegisteredInstance[] = [];
  private readonly inFlight = new Map<string, number>();
  private loaded = false;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private closed = false;

  constructor(deps: RegistryDeps, name: string, options: DiscoveryOptions = {}) {
    super();
    this.name = name;
    this.strategy = options.strategy ?? 'round-robin';
    this.balancer = createBalancer(this.strategy, options.balancer ?? {});
    this.breakers =
      options.circuitBreaker === false ? null : new CircuitBreakers(options.circuitBreaker ?? {});
    this.filter = { healthyOnly: true, ...options.filters };
    this.retry = { ...DEFAULT_CALL_RETRY, ...options.retry };
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.readyPromise.catch(() => undefined);
    this.watch = new ServiceWatch(deps, name);
    this.watch.on('event', (event) => this.apply(event));
    this.watch.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  /** Resolves once the first snapshot is loaded (rejects after `timeoutMs`, default 10 s). */
  ready(timeoutMs = 10_000): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new RaftreeError({
              code: 'DEADLINE_EXCEEDED',
              details: `the instances of ${this.name} were not loaded within ${timeoutMs} ms`,
              operation: `discovery ${this.name}`,
            }),
          ),
        timeoutMs,
      );
      this.readyPromise.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** The instances that qualify (filters, health), in id order. */
  instances(): readonly RegisteredInstance[] {
    return this.qualifying;
  }

  /** Every known instance of the service, whatever its health. */
  all(): RegisteredInstance[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Requests this client has in flight to the instance (through call()). */
  activeRequests(instanceId: string): number {
    return this.inFlight.get(instanceId) ?? 0;
  }

  /** One qualifying instance whose circuit allows a call, chosen by the strategy; undefined if none. */
  pick(context: PickContext = {}): RegisteredInstance | undefined {
    return this.pickAmong(this.qualifying, context);
  }

  /**
   * Runs `fn` against an instance, and on failure against another (preferring instances not yet
   * tried), up to maxAttempts with full-jitter backoff between attempts. Each instance's breaker
   * hears every outcome; an open breaker takes the instance out of rotation for its cooldown.
   */
  async call<T>(
    fn: (instance: RegisteredInstance, attempt: number) => Promise<T>,
    options: DiscoveryCallOptions = {},
  ): Promise<T> {
    const maxAttempts = options.maxAttempts ?? this.retry.maxAttempts;
    const isFailure = options.isFailure ?? (() => true);
    const context: PickContext = options.key === undefined ? {} : { key: options.key };
    const tried = new Set<string>();
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.closed) throw this.closedError();
      if (attempt > 1) await sleep(fullJitterDelayMs(attempt - 2, this.retry));
      const fresh = this.qualifying.filter((i) => !tried.has(i.id));
      const instance = this.pickAmong(fresh.length > 0 ? fresh : this.qualifying, context);
      if (instance === undefined) {
        lastError = this.noInstanceError();
        continue;
      }
      tried.add(instance.id);
      const permit: CircuitPermit | undefined =
        this.breakers === null ? NO_BREAKER : this.breakers.for(instance.id).tryAcquire();
      if (permit === undefined) {
        lastError = this.noInstanceError();
        continue;
      }
      this.started(instance);
      let ok = false;
      try {
        const result = await fn(instance, attempt);
        ok = true;
        permit.succeeded();
        return result;
      } catch (error) {
        lastError = error;
        if (!isFailure(error)) {
          permit.succeeded();
          throw error;
        }
        permit.failed();
      } finally {
        this.finished(instance, ok);
      }
    }
    throw lastError ?? this.noInstanceError();
  }

  /** Stops following the registry. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    this.rejectReady(this.closedError());
    this.emit('close');
  }

  // --- internals -------------------------------------------------------------------------------

  private pickAmong(
    candidates: readonly RegisteredInstance[],
    context: PickContext,
  ): RegisteredInstance | undefined {
    const open = this.breakers === null ? candidates : this.breakers.available(candidates);
    if (open.length === 0) return undefined;
    return this.balancer.pick(open, context) as RegisteredInstance | undefined;
  }

  private started(instance: RegisteredInstance): void {
    this.inFlight.set(instance.id, this.activeRequests(instance.id) + 1);
    this.balancer.onStart?.(instance);
  }

  private finished(instance: RegisteredInstance, ok: boolean): void {
    const left = this.activeRequests(instance.id) - 1;
    if (left > 0) this.inFlight.set(instance.id, left);
    else this.inFlight.delete(instance.id);
    this.balancer.onFinish?.(instance, ok);
  }

  private apply(event: ServiceWatchEvent): void {
    if (event.type === 'snapshot') {
      this.byId.clear();
      for (const instance of event.instances) this.byId.set(instance.id, instance);
    } else if (event.type === 'deregistered') {
      this.byId.delete(event.id);
    } else if (event.instance !== undefined) {
      const before = this.byId.get(event.id);
      // A re-registration is a new instance for its breaker.
      if (before !== undefined && event.type === 'registered') this.breakers?.for(event.id).reset();
      this.byId.set(event.id, event.instance);
    }
    this.breakers?.retainOnly(this.byId.keys());
    this.qualifying = this.all().filter((instance) => matchesFilter(instance, this.filter));
    if (!this.loaded) {
      this.loaded = true;
      this.resolveReady();
    }
    this.emit('change', this.qualifying);
  }

  private noInstanceError(): RaftreeError {
    const known = this.byId.size;
    const qualifying = this.qualifying.length;
    return new RaftreeError({
      code: 'UNAVAILABLE',
      details:
        `no instance of ${this.name} is available (${known} registered, ${qualifying} qualifying` +
        `${this.breakers !== null && qualifying > 0 ? ', the rest with open circuits' : ''})`,
      operation: `discovery ${this.name}`,
      notSent: true,
    });
  }

  private closedError(): RaftreeError {
    return new RaftreeError({
      code: 'CANCELLED',
      details: 'the discovery was closed',
      operation: `discovery ${this.name}`,
      notSent: true,
    });
  }
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
