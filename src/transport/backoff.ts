/** Reconnect pacing: exponential growth from `baseMs`, capped at `maxMs`, with jitter. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 250 };

/**
 * Delay before reconnect attempt number `attempt` (0-based): a uniformly random point in the
 * upper half of the exponential step ("equal jitter"), so peers that lost a node at the same
 * moment do not all knock on its door in lockstep, yet none waits less than half the step.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return step / 2 + random() * (step / 2);
}
