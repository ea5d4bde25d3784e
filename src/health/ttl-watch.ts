import type { TtlCheckSpec } from './check-spec.js';
import { CheckStateMachine, type CheckStatus } from './check-state-machine.js';
import type { RunningCheck, RunningCheckHooks } from './running-check.js';
import { TtlClock } from './ttl-clock.js';

/** A heartbeat or a missed TTL is decisive on its own: no streak is needed. */
const TTL_THRESHOLDS = { failuresBeforeCritical: 1, successesBeforePassing: 1 };

/**
 * A TTL check: passing while heartbeat() is called at least every ttlMs. One timer at a time,
 * armed for the current expiry; heartbeats only move the expiry, and the timer re-arms itself
 * for the remainder when it finds the check still alive — no timer churn per heartbeat.
 */
export class TtlWatch implements RunningCheck {
  private readonly machine: CheckStateMachine;
  private readonly clock: TtlClock;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    spec: TtlCheckSpec,
    private readonly initialStatus: CheckStatus,
    private readonly hooks: RunningCheckHooks,
  ) {
    this.machine = new CheckStateMachine(TTL_THRESHOLDS, initialStatus);
    this.clock = new TtlClock(spec.ttlMs);
  }

  get status(): CheckStatus {
    return this.machine.status;
  }

  start(): void {
    // A check taken over while passing (its owner moved) gets one full TTL from now: the
    // previous owner's last heartbeat time did not come with it.
    if (this.initialStatus === 'passing') this.heartbeat();
  }

  heartbeat(): void {
    if (this.stopped) return;
    const now = this.hooks.now();
    this.clock.heartbeat(now);
    const change = this.machine.record({ ok: true, detail: 'heartbeat received' }, now);
    if (change !== undefined) this.hooks.emit(change);
    if (this.timer === undefined) this.arm(this.clock.ttlMs);
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.onTimer(), delayMs);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.hooks.now();
    if (this.clock.isAlive(now)) {
      this.arm(Math.max(1, this.clock.expiresAt! - now));
      return;
    }
    const silentFor = now - (this.clock.lastHeartbeat ?? now);
    const change = this.machine.record(
      { ok: false, detail: `no heartbeat for ${silentFor} ms (TTL ${this.clock.ttlMs} ms)` },
      now,
    );
    if (change !== undefined) this.hooks.emit(change);
    // No re-arm: a critical TTL check has nothing left to time until the next heartbeat.
  }
}
