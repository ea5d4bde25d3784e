/** Errors the health-check library raises to its callers (probe failures are results, not errors). */

export interface CheckSpecProblem {
  /** The offending field, e.g. "timeoutMs" or "headers.X-Trace"; "" for the spec as a whole. */
  readonly field: string;
  readonly message: string;
}

/**
 * A health check definition that cannot run. Every problem found is listed, so one round trip
 * fixes them all; `problems` carries them one by one for APIs that report per field.
 */
export class InvalidCheckSpecError extends Error {
  override readonly name = 'InvalidCheckSpecError';

  constructor(readonly problems: readonly CheckSpecProblem[]) {
    super(`invalid health check: ${problems.map((problem) => problem.message).join('; ')}`);
  }
}

/** The runner was used wrongly: an unknown or duplicate check id, a heartbeat for a probe check. */
export class HealthCheckUsageError extends Error {
  override readonly name = 'HealthCheckUsageError';
}
