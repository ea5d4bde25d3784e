/**
 * A per-instance circuit breaker. After enough failures an instance is skipped for a cooldown
 * (open) instead of every request paying its timeout; then a few trial requests probe it
 * (half-open), and a success brings it back (closed).
 *
 * Time comes from an injected `now()` so the state machine is deterministic under test; the
 * breaker sets no timers — "open" turns into "half-open" when someone next asks after the
 * cooldown.
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface FailureRatioPolicy {
  /** Open when failures / calls within the window reaches this, in (0, 1]. */
  readonly threshold: number;
  readonly windowMs: number;
  /** Fewer calls than this in the window never open the breaker: 1 of 1 failing says little. */
  readonly minimumCalls: number;
}

export interface CircuitBreakerOptions {
  /** Open after this many failures in a row (default 5). */
  readonly consecutiveFailures?: number;
  /** Also open on a failure ratio over a sliding window (off by default). */
  readonly failureRatio?: FailureRatioPolicy;
  /** How long the breaker stays open before allowing trial calls (default 10 000 ms). */
  readonly cooldownMs?: number;
  /** Trial calls allowed at once while half-open (default 1). */
  readonly halfOpenMaxCalls?: number;
  /** Trial successes that close the breaker (default 1). */
  readonly successesToClose?: number;
  /** Milliseconds on any monotonic-enough clock; Date.now by default. */
  readonly now?: () => number;
  readonly onStateChange?: (change: CircuitStateChange) => void;
}

export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly at: number;
  readonly reason: string;
}

/** Permission for one call. Report its outcome exactly once; later reports are ignored. */
export interface CircuitPermit {
  succeeded(): void;
  failed(): void;
}

/** A call was refused because the circuit is open (or its half-open trials are all taken). */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    message: string,
    /** When a trial call may next be allowed, in ms from now (0 when waiting on a trial). */
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export class InvalidCircuitBreakerOptionError extends Error {
  override readonly name = 'InvalidCircuitBreakerOptionError';
}

interface ResolvedOptions {
  readonly consecutiveFailures: number;
  readonly failureRatio: FailureRatioPolicy | undefined;
  readonly cooldownMs: number;
  readonly halfOpenMaxCalls: number;
  readonly successesToClose: number;
}

const RATIO_BUCKETS = 10;

/**
 * Calls and failures over the last `windowMs`, in RATIO_BUCKETS time buckets: memory stays
 * constant however many calls are made, at the price of the window edge moving in steps.
 */
class RollingOutcomes {
  private readonly bucketMs: number;
  private readonly starts = new Array<number>(RATIO_BUCKETS).fill(-Infinity);
  private readonly calls = new Array<number>(RATIO_BUCKETS).fill(0);
  private readonly failures = new Array<number>(RATIO_BUCKETS).fill(0);

  constructor(windowMs: number) {
    this.bucketMs = windowMs / RATIO_BUCKETS;
  }

  record(ok: boolean, now: number): void {
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    const slot = Math.floor(now / this.bucketMs) % RATIO_BUCKETS;
    if (this.starts[slot] !== start) {
      this.starts[slot] = start;
      this.calls[slot] = 0;
      this.failures[slot] = 0;
    }
    this.calls[slot]! += 1;
    if (!ok) this.failures[slot]! += 1;
  }

  totals(now: number): { calls: number; failures: number } {
    const oldest = now - this.bucketMs * RATIO_BUCKETS;
    let calls = 0;
    let failures = 0;
    for (let slot = 0; slot < RATIO_BUCKETS; slot++) {
      if (this.starts[slot]! > oldest) {
        calls += this.calls[slot]!;
        failures += this.failures[slot]!;
      }
    }
    return { calls, failures };
  }

  clear(): void {
    this.starts.fill(-Infinity);
  }
}

export class CircuitBreaker {
  private readonly config: ResolvedOptions;
  private readonly now: () => number;
  private current: CircuitState = 'closed';
  /** Bumped on every state change; a permit from an older epoch reports into the void. */
  private epoch = 0;
  private failureStreak = 0;
  private readonly window: RollingOutcomes | undefined;
  private openedAt = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  private lastTrialAt = 0;

  constructor(private readonly options: CircuitBreakerOptions = {}) {
    this.config = resolveOptions(options);
    this.now = options.now ?? Date.now;
    this.window = this.config.failureRatio && new RollingOutcomes(this.config.failureRatio.windowMs);
  }

  /** The state now, moving open → half-open if the cooldown has passed. */
  get state(): CircuitState {
    this.advance();
    return this.current;
  }

  /** Whether tryAcquire would succeed now, without taking a trial slot (for filtering instances). */
  canAttempt(): boolean {
    this.advance();
    if (this.current === 'closed') return true;
    if (this.current === 'open') return false;
    return this.trialsInFlight < this.config.halfOpenMaxCalls;
  }

  /** A permit for one call, or undefined when the call should not be made. */
  tryAcquire(): CircuitPermit | undefined {
    if (!this.canAttempt()) return undefined;
    if (this.current === 'half-open') {
      this.trialsInFlight += 1;
      this.lastTrialAt = this.now();
    }
    const epoch = this.epoch;
    let reported = false;
    const report = (ok: boolean) => {
      if (reported) return;
      reported = true;
      if (epoch === this.epoch) this.record(ok);
    };
    return { succeeded: () => report(true), failed: () => report(false) };
  }

  /**
   * Runs `call` under the breaker: refused with CircuitOpenError while open, and counted as a
   * failure when it throws and `isFailure` (default: every error) agrees. An error `isFailure`
   * rejects (NOT_FOUND, say) counts as a success: the instance answered.
   */
  async run<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean = () => true): Promise<T> {
    const permit = this.tryAcquire();
    if (permit === undefined) throw new CircuitOpenError(this.describeRefusal(), this.retryAfterMs());
    try {
      const result = await call();
      permit.succeeded();
      return result;
    } catch (error) {
      if (isFailure(error)) permit.failed();
      else permit.succeeded();
      throw error;
    }
  }

  /** Milliseconds until an open breaker allows a trial (0 unless open). */
  retryAfterMs(): number {
    this.advance();
    return this.current === 'open' ? Math.max(0, this.openedAt + this.config.cooldownMs - this.now()) : 0;
  }

  /** Back to closed with clean counters, e.g. when the registry says the instance was replaced. */
  reset(): void {
    if (this.current !== 'closed') this.transition('closed', 'reset');
    this.clearCounters();
  }

  private record(ok: boolean): void {
    const now = this.now();
    if (this.current === 'half-open') {
      this.trialsInFlight = Math.max(0, this.trialsInFlight - 1);
      if (!ok) {
        this.open(now, 'a half-open trial call failed');
      } else if (++this.trialSuccesses >= this.config.successesToClose) {
        this.transition('closed', `${this.trialSuccesses} trial call(s) succeeded`);
        this.clearCounters();
      }
      return;
    }
    // Only closed remains: permits are never handed out while open.
    this.failureStreak = ok ? 0 : this.failureStreak + 1;
    this.window?.record(ok, now);
    if (this.failureStreak >= this.config.consecutiveFailures) {
      this.open(now, `${this.failureStreak} consecutive failures`);
      return;
    }
    const ratio = this.config.failureRatio;
    if (ratio !== undefined && this.window !== undefined) {
      const { calls, failures } = this.window.totals(now);
      if (calls >= ratio.minimumCalls && failures / calls >= ratio.threshold) {
        this.open(now, `${failures} of ${calls} calls failed within ${ratio.windowMs} ms`);
      }
    }
  }

  private advance(): void {
    const now = this.now();
    if (this.current === 'open' && now - this.openedAt >= this.config.cooldownMs) {
      this.transition('half-open', `cooldown of ${this.config.cooldownMs} ms elapsed`);
      this.trialsInFlight = 0;
      this.trialSuccesses = 0;
      this.lastTrialAt = now;
    } else if (
      this.current === 'half-open' &&
      this.trialsInFlight > 0 &&
      now - this.lastTrialAt >= this.config.cooldownMs
    ) {
      // A trial whose caller never reported back would hold its slot forever and wedge the
      // breaker half-open; after a cooldown without news its slot is handed out again.
      this.trialsInFlight = 0;
    }
  }

  private open(now: number, reason: string): void {
    this.openedAt = now;
    this.transition('open', reason);
    this.clearCounters();
  }

  private clearCounters(): void {
    this.failureStreak = 0;
    this.trialsInFlight = 0;
    this.trialSuccesses = 0;
    this.window?.clear();
  }

  private transition(to: CircuitState, reason: string): void {
    const from = this.current;
    this.current = to;
    this.epoch += 1;
    this.options.onStateChange?.({ from, to, at: this.now(), reason });
  }

  private describeRefusal(): string {
    return this.current === 'open'
      ? `circuit open; next trial call in ${this.retryAfterMs()} ms`
      : `circuit half-open and all ${this.config.halfOpenMaxCalls} trial call(s) are in flight`;
  }
}

/**
 * One breaker per instance id, made on first use. Filter candidates with `available()` before a
 * balancer picks, then take a permit for the chosen instance.
 */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions = {}) {
    resolveOptions(options);
  }

  for(instanceId: string): CircuitBreaker {
    let breaker = this.breakers.get(instanceId);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(instanceId, breaker);
    }
    return breaker;
  }

  /** The instances whose breaker would allow a call now. */
  available<I extends { readonly id: string }>(instances: readonly I[]): I[] {
    return instances.filter((instance) => this.breakers.get(instance.id)?.canAttempt() ?? true);
  }

  /** Drops the breakers of instances no longer listed, so departed ids do not accumulate. */
  retainOnly(instanceIds: Iterable<string>): void {
    const keep = new Set(instanceIds);
    for (const id of this.breakers.keys()) if (!keep.has(id)) this.breakers.delete(id);
  }
}

function resolveOptions(options: CircuitBreakerOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    consecutiveFailures: options.consecutiveFailures ?? 5,
    failureRatio: options.failureRatio,
    cooldownMs: options.cooldownMs ?? 10_000,
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? 1,
    successesToClose: options.successesToClose ?? 1,
  };
  requireInteger('consecutiveFailures', resolved.consecutiveFailures, 1);
  requireInteger('halfOpenMaxCalls', resolved.halfOpenMaxCalls, 1);
  requireInteger('successesToClose', resolved.successesToClose, 1);
  if (!(resolved.cooldownMs > 0) || !Number.isFinite(resolved.cooldownMs)) {
    throw new InvalidCircuitBreakerOptionError(
      `circuit breaker cooldownMs must be a positive number of milliseconds, got ${String(options.cooldownMs)}`,
    );
  }
  const ratio = resolved.failureRatio;
  if (ratio !== undefined) {
    if (!(ratio.threshold > 0 && ratio.threshold <= 1)) {
      throw new InvalidCircuitBreakerOptionError(
        `circuit breaker failureRatio.threshold must be in (0, 1], got ${String(ratio.threshold)}`,
      );
    }
    if (!(ratio.windowMs > 0) || !Number.isFinite(ratio.windowMs)) {
      throw new InvalidCircuitBreakerOptionError(
        `circuit breaker failureRatio.windowMs must be a positive number of milliseconds, got ${String(ratio.windowMs)}`,
      );
    }
    requireInteger('failureRatio.minimumCalls', ratio.minimumCalls, 1);
  }
  return resolved;
}

function requireInteger(field: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new InvalidCircuitBreakerOptionError(
      `circuit breaker ${field} must be an integer >= ${minimum}, got ${String(value)}`,
    );
  }
}
