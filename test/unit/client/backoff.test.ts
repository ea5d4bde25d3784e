import { describe, expect, it } from 'vitest';
import {
  backoffCeilingMs,
  DEFAULT_RETRY_POLICY,
  fullJitterDelayMs,
  validateRetryPolicy,
} from '../../../src/client/backoff.js';

const policy = { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1_000 };

describe('full-jitter backoff', () => {
  it('doubles the ceiling per retry up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((r) => backoffCeilingMs(r, policy))).toEqual([
      50, 100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('draws uniformly from [0, ceiling): the extremes of random() map to the bounds', () => {
    expect(fullJitterDelayMs(3, policy, () => 0)).toBe(0);
    expect(fullJitterDelayMs(3, policy, () => 0.999_999)).toBeCloseTo(400, 2);
    expect(fullJitterDelayMs(3, policy, () => 0.5)).toBe(200);
  });

  it('stays within bounds for many random draws, even for absurd retry numbers', () => {
    for (let retry = 0; retry < 100; retry++) {
      for (let i = 0; i < 50; i++) {
        const delay = fullJitterDelayMs(retry, policy);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(backoffCeilingMs(retry, policy));
        expect(delay).toBeLessThanOrEqual(policy.maxDelayMs);
      }
    }
    expect(backoffCeilingMs(10_000, policy)).toBe(1_000);
    expect(backoffCeilingMs(-3, policy)).toBe(50);
  });

  it('spreads clients out: the mean of many draws is about half the ceiling', () => {
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) sum += fullJitterDelayMs(2, policy);
    expect(sum / n).toBeGreaterThan(90);
    expect(sum / n).toBeLessThan(110);
  });

  it('validates policies', () => {
    expect(() => validateRetryPolicy(DEFAULT_RETRY_POLICY)).not.toThrow();
    expect(() => validateRetryPolicy({ ...policy, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => validateRetryPolicy({ ...policy, maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => validateRetryPolicy({ ...policy, baseDelayMs: 2_000 })).toThrow(/baseDelayMs/);
    expect(() => validateRetryPolicy({ ...policy, baseDelayMs: -1 })).toThrow(/baseDelayMs/);
  });
});
