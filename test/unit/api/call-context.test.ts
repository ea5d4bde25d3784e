/** Deadlines and cancellation: waits end on time and leave no timers or listeners behind. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { effectiveDeadline, within, type CallContext } from '../../../src/api/call-context.js';
import { ApiError } from '../../../src/api/errors.js';
import { clusterIdOf } from '../../../src/api/header.js';

const context = (deadline: number, controller = new AbortController()): CallContext => ({
  deadline,
  signal: controller.signal,
  forwardedBy: null,
});
const timeout = (): ApiError => new ApiError(grpc.status.DEADLINE_EXCEEDED, 'too late');

describe('within', () => {
  it('passes a result through', async () => {
    await expect(within(context(Date.now() + 1000), Promise.resolve(7), timeout)).resolves.toBe(7);
  });

  it('ends at the deadline, and a late rejection of the work is not unhandled', async () => {
    let reject!: (error: Error) => void;
    const work = new Promise<never>((_, r) => (reject = r));
    await expect(within(context(Date.now() + 20), work, timeout)).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    reject(new Error('late'));
  });

  it('ends on abort with the abort reason and removes its listener', async () => {
    const controller = new AbortController();
    const waiting = within(context(Date.now() + 10_000, controller), new Promise(() => {}), timeout);
    controller.abort(new ApiError(grpc.status.UNAVAILABLE, 'stopping'));
    await expect(waiting).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});

describe('deadlines and cluster ids', () => {
  it('caps a missing or distant client deadline with the server default', () => {
    const now = Date.now();
    expect(effectiveDeadline(Infinity, 1000)).toBeGreaterThanOrEqual(now + 1000);
    expect(effectiveDeadline(now + 50, 1000)).toBe(now + 50);
    expect(effectiveDeadline(new Date(now + 10 ** 9), 1000)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('derives the same cluster id from the founders in any order', () => {
    expect(clusterIdOf(['n2', 'n1', 'n3'])).toBe(clusterIdOf(['n1', 'n2', 'n3']));
    expect(clusterIdOf(['n1', 'n2'])).not.toBe(clusterIdOf(['n1', 'n2', 'n3']));
  });
});
