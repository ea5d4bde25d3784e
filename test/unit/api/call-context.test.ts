/** Deadlines and cancellation: waits end on time and leave no timers or listeners behind. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  CallAbort,
  effectiveDeadline,
  within,
  type CallContext,
  type CallSignal,
} from '../../../src/api/call-context.js';
import { ApiError } from '../../../src/api/errors.js';
import { clusterIdOf } from '../../../src/api/header.js';

/** The two kinds of signal a context carries: a unary call's CallAbort, a stream's AbortController. */
interface Aborter {
  readonly signal: CallSignal;
  abort(reason: unknown): void;
}
const aborters: [string, () => Aborter][] = [
  [
    'CallAbort',
    () => {
      const abort = new CallAbort();
      return { signal: abort, abort: (reason) => abort.abort(reason) };
    },
  ],
  ['AbortController', () => new AbortController()],
];

const context = (deadline: number, aborter: Aborter = new AbortController()): CallContext => ({
  deadline,
  signal: aborter.signal,
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

  it.each(aborters)('ends on abort (%s) with the abort reason', async (_kind, make) => {
    const aborter = make();
    const waiting = within(context(Date.now() + 10_000, aborter), new Promise(() => {}), timeout);
    aborter.abort(new ApiError(grpc.status.UNAVAILABLE, 'stopping'));
    await expect(waiting).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it.each(aborters)('fails at once on a context already aborted (%s)', async (_kind, make) => {
    const aborter = make();
    aborter.abort(new ApiError(grpc.status.CANCELLED, 'gone'));
    await expect(
      within(context(Date.now() + 10_000, aborter), Promise.resolve(1), timeout),
    ).rejects.toMatchObject({
      code: grpc.status.CANCELLED,
    });
  });
});

describe('CallAbort', () => {
  it('runs each listener once, keeps the reason, and skips removed and late listeners', () => {
    const abort = new CallAbort();
    const ran: string[] = [];
    const first = (): void => void ran.push('first');
    const removed = (): void => void ran.push('removed');
    abort.addEventListener('abort', first, { once: true });
    abort.addEventListener('abort', removed);
    abort.addEventListener('abort', () => ran.push('third'));
    abort.removeEventListener('abort', removed);
    expect(abort.aborted).toBe(false);

    abort.abort('why');
    abort.abort('again');
    abort.addEventListener('abort', () => ran.push('late'));
    expect(ran).toEqual(['first', 'third']);
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe('why');
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
