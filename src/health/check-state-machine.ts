/**
 * Turns a stream of probe results into a status with hysteresis. Pure: no I/O, no clock of its
 * own (the caller passes the time of each result), so it is tested without waiting.
 */
import { HealthCheckUsageError } from './errors.js';

export type CheckStatus = 'passing' | 'critical';

/**
 * A new check is critical until it has proven itself, as in Consul: discovery's "healthy only"
 * filter must not hand out an instance nobody has reached yet. The registry should store this
 * status when it registers a check, so the first transition it hears about is to passing.
 */
export const INITIAL_CHECK_STATUS: CheckStatus = 'critical';

export interface CheckThresholds {
  readonly failuresBeforeCritical: number;
  readonly successesBeforePassing: number;
}

export interface ResultLike {
  readonly ok: boolean;
  readonly detail: string;
}

export interface StatusChange {
  readonly from: CheckStatus;
  readonly to: CheckStatus;
  /** The detail of the result that tipped it. */
  readonly detail: string;
  readonly at: number;
}

export class CheckStateMachine {
  /** Consecutive results that disagree with the current status. */
  private streak = 0;
  private current: CheckStatus;

  constructor(
    private readonly thresholds: CheckThresholds,
    initialStatus: CheckStatus = INITIAL_CHECK_STATUS,
  ) {
    const { failuresBeforeCritical, successesBeforePassing } = thresholds;
    for (const [name, value] of Object.entries({ failuresBeforeCritical, successesBeforePassing })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new HealthCheckUsageError(`${name} must be a whole number >= 1, got ${String(value)}`);
      }
    }
    this.current = initialStatus;
  }

  get status(): CheckStatus {
    return this.current;
  }

  /** The results in a row that currently argue for a change (0 when the last one agreed). */
  get pendingStreak(): number {
    return this.streak;
  }

  /**
   * Records one result. Returns the change when this result completes a streak long enough to
   * flip the status, and undefined otherwise — so callers act only on changes (which is what
   * goes through the Raft log), never on every probe.
   */
  record(result: ResultLike, at: number): StatusChange | undefined {
    const agrees = result.ok === (this.current === 'passing');
    if (agrees) {
      this.streak = 0;
      return undefined;
    }
    this.streak += 1;
    const needed =
      this.current === 'passing'
        ? this.thresholds.failuresBeforeCritical
        : this.thresholds.successesBeforePassing;
    if (this.streak < needed) return undefined;
    const from = this.current;
    this.current = result.ok ? 'passing' : 'critical';
    this.streak = 0;
    return { from, to: this.current, detail: result.detail, at };
  }
}
