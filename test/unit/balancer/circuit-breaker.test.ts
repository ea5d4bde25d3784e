import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  CircuitBreakers,
  CircuitOpenError,
  InvalidCircuitBreakerOptionError,
  type CircuitBreakerOptions,
  type CircuitStateChange,
} from '../../../src/client/circuit-breaker.js';

/** A breaker on a hand-driven clock, recording its state changes. */
function breakerAt(options: CircuitBreakerOptions = {}) {
  const clock = { now: 1_000 };
  const changes: CircuitStateChange[] = [];
  const breaker = new CircuitBreaker({
    cooldownMs: 5_000,
    ...options,
    now: () => clock.now,
    onStateChange: (change) => changes.push(change),
  });
  const fail = (times = 1) => {
    for (let i = 0; i < times; i++) breaker.tryAcquire()!.failed();
  };
  const succeed = (times = 1) => {
    for (let i = 0; i < times; i++) breaker.tryAcquire()!.succeeded();
  };
  return { breaker, clock, changes, fail, succeed };
}

describe('circuit breaker', () => {
  it('opens after N consecutive failures and refuses calls while open', () => {
    const { breaker, fail, changes } = breakerAt({ consecutiveFailures: 3 });
    fail(2);
    expect(breaker.state).toBe('closed');
    fail();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(breaker.canAttempt()).toBe(false);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open']);
    expect(changes[0]!.reason).toBe('3 consecutive failures');
  });

  it('a success resets the consecutive-failure count', () => {
    const { breaker, fail, succeed } = breakerAt({ consecutiveFailures: 3 });
    fail(2);
    succeed();
    fail(2);
    expect(breaker.state).toBe('closed');
  });

  it('goes half-open after the cooldown, allows a limited number of trials, and closes on success', () => {
    const { breaker, clock, fail, changes } = breakerAt({ consecutiveFailures: 1, halfOpenMaxCalls: 2 });
    fail();
    clock.now += 4_999;
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs()).toBe(1);
    clock.now += 1;
    expect(breaker.state).toBe('half-open');
    const first = breaker.tryAcquire()!;
    const second = breaker.tryAcquire()!;
    expect(breaker.tryAcquire()).toBeUndefined();
    first.succeeded();
    expect(breaker.state).toBe('closed');
    second.failed(); // a trial from the half-open epoch: stale once the breaker has closed
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  it('a failed trial reopens the breaker for a fresh cooldown', () => {
    const { breaker, clock, fail } = breakerAt({ consecutiveFailures: 1 });
    fail();
    clock.now += 5_000;
    breaker.tryAcquire()!.failed();
    expect(breaker.state).toBe('open');
    clock.now += 4_000;
    expect(breaker.state).toBe('open');
    clock.now += 1_000;
    expect(breaker.state).toBe('half-open');
  });

  it('needs successesToClose trial successes in a row when configured', () => {
    const { breaker, clock, fail, succeed } = breakerAt({ consecutiveFailures: 1, successesToClose: 3 });
    fail();
    clock.now += 5_000;
    succeed(2);
    expect(breaker.state).toBe('half-open');
    succeed();
    expect(breaker.state).toBe('closed');
  });

  it('ignores late reports from calls started before the breaker opened, and double reports', () => {
    const { breaker, clock, fail } = breakerAt({ consecutiveFailures: 2 });
    const slow = breaker.tryAcquire()!;
    fail(2);
    expect(breaker.state).toBe('open');
    clock.now += 5_000;
    expect(breaker.state).toBe('half-open');
    slow.succeeded(); // started while closed: says nothing about the instance now
    expect(breaker.state).toBe('half-open');
    const trial = breaker.tryAcquire()!;
    trial.succeeded();
    trial.failed();
    expect(breaker.state).toBe('closed');
  });

  it('hands out a trial slot again when a trial never reports back', () => {
    const { breaker, clock, fail } = breakerAt({ consecutiveFailures: 1 });
    fail();
    clock.now += 5_000;
    expect(breaker.tryAcquire()).toBeDefined(); // abandoned
    expect(breaker.tryAcquire()).toBeUndefined();
    clock.now += 5_000;
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('opens on a failure ratio within the window once enough calls were made', () => {
    const { breaker, fail, succeed } = breakerAt({
      consecutiveFailures: 100,
      failureRatio: { threshold: 0.5, windowMs: 10_000, minimumCalls: 10 },
    });
    // Alternating: never two failures in a row, but half of all calls fail.
    for (let i = 0; i < 4; i++) {
      fail();
      succeed();
    }
    expect(breaker.state).toBe('closed'); // 8 calls: below minimumCalls
    fail();
    succeed(); // 10 calls, 5 failed
    expect(breaker.state).toBe('open');
  });

  it('forgets failures older than the ratio window', () => {
    const { breaker, clock, fail, succeed } = breakerAt({
      consecutiveFailures: 100,
      failureRatio: { threshold: 0.5, windowMs: 10_000, minimumCalls: 10 },
    });
    fail(5);
    clock.now += 11_000;
    succeed(5);
    fail();
    succeed(4);
    expect(breaker.state).toBe('closed'); // 1 of the 10 calls in the window failed
  });

  it('run() refuses while open with CircuitOpenError and counts thrown errors as failures', async () => {
    const { breaker } = breakerAt({ consecutiveFailures: 2 });
    await expect(breaker.run(async () => 'ok')).resolves.toBe('ok');
    const boom = () => Promise.reject(new Error('boom'));
    await expect(breaker.run(boom)).rejects.toThrow('boom');
    // An error the caller says is not the instance's fault (e.g. NOT_FOUND) does not count.
    await expect(breaker.run(boom, () => false)).rejects.toThrow('boom');
    await expect(breaker.run(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(boom)).rejects.toThrow('boom');
    const refused = await breaker.run(async () => 'never').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBe(5_000);
  });

  it('reset() closes it', () => {
    const { breaker, fail } = breakerAt({ consecutiveFailures: 1 });
    fail();
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.canAttempt()).toBe(true);
  });

  it('validates its options with messages naming the field', () => {
    expect(() => new CircuitBreaker({ consecutiveFailures: 0 })).toThrow(
      /consecutiveFailures must be an integer >= 1/,
    );
    expect(() => new CircuitBreaker({ cooldownMs: -1 })).toThrow(InvalidCircuitBreakerOptionError);
    expect(
      () => new CircuitBreaker({ failureRatio: { threshold: 1.5, windowMs: 1_000, minimumCalls: 1 } }),
    ).toThrow(/threshold must be in \(0, 1\]/);
  });
});

describe('per-instance circuit breakers', () => {
  it('filters out instances whose breaker is open, independently per instance', () => {
    let now = 0;
    const breakers = new CircuitBreakers({ consecutiveFailures: 1, cooldownMs: 100, now: () => now });
    const list = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    breakers.for('b').tryAcquire()!.failed();
    expect(breakers.available(list).map((i) => i.id)).toEqual(['a', 'c']);
    now = 100;
    expect(breakers.available(list).map((i) => i.id)).toEqual(['a', 'b', 'c']);
    breakers.retainOnly(['a']);
    expect(breakers.for('b').state).toBe('closed');
  });
});
