/** How a call retries: at most `maxAttempts` tries in all, paced by full-jitter backoff. */
export interface RetryPolicy {
  /** Tries in all, the first included (1 = never retry). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 50, maxDelayMs: 1_000 };

/**
 * Delay before retry number `retry` (0-based): uniform in [0, min(max, base * 2^retry)) —
 * "full jitter". Many clients that lost the same leader at the same moment spread out over the
 * whole window instead of arriving together at each step (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"); the expected wait is half the step.
 */
export function fullJitterDelayMs(
  retry: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  return random() * backoffCeilingMs(retry, policy);
}

/** The upper bound of retry number `retry`'s delay. */
export function backoffCeilingMs(retry: number, policy: RetryPolicy): number {
  const exponent = Math.max(0, Math.min(retry, 30));
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
}

export function validateRetryPolicy(policy: RetryPolicy): void {
  const { maxAttempts, baseDelayMs, maxDelayMs } = policy;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs)) {
    throw new RangeError(
      `retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs, got ${baseDelayMs} and ${maxDelayMs}`,
    );
  }
}
