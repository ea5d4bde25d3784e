/**
 * Per-call state shared by the handlers: the deadline every wait honours, an abort signal for
 * a cancelled call or a stopping node, and whether another member forwarded the call here.
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError } from './errors.js';

/** Metadata a forwarding member adds, so the receiver never forwards the call a second time. */
export const FORWARDED_BY_METADATA = 'raftree-forwarded-by';

/** setTimeout's largest delay; longer waits are clamped (a deadline that far away is no deadline). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a call's handlers need of its cancellation; an AbortSignal is one. */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A unary call's cancellation: AbortController's job for the one or two listeners a call
 * has, without the EventTarget an AbortSignal is. Creating the signal and adding and removing
 * its listener were ~100 ms of a node's ~6 s busy time over 11 s of puts at 16 in flight
 * (CPU profile). Like an AbortSignal: a listener runs at most once, and one added after the
 * abort never runs.
 */
export class CallAbort implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | null = null;

  /** Listeners run at most once anyway: `once` changes nothing. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { readonly once?: boolean }): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners !== null) for (const listener of listeners) listener();
  }
}

export interface CallContext {
  /** Epoch milliseconds by which the call must be answered (the client's or the server default). */
  readonly deadline: number;
  /** Aborted when the client cancels or the node stops; its reason is an ApiError. */
  readonly signal: CallSignal;
  /** The member that forwarded this call here, or null when it came from a client. */
  readonly forwardedBy: string | null;
}

export function remainingMs(context: CallContext): number {
  return context.deadline - Date.now();
}

/** The deadline the client set (grpc-js: epoch ms, or Infinity for none), else now + defaultTimeoutMs. */
export function effectiveDeadline(clientDeadline: grpc.Deadline, defaultTimeoutMs: number): number {
  const fallback = Date.now() + defaultTimeoutMs;
  const value = clientDeadline instanceof Date ? clientDeadline.getTime() : clientDeadline;
  return Number.isFinite(value) ? Math.min(value, fallback) : fallback;
}

export function forwardedByOf(metadata: grpc.Metadata): string | null {
  const value = metadata.get(FORWARDED_BY_METADATA)[0];
  return typeof value === 'string' && value !== '' ? value : null;
}

function abortReason(signal: CallSignal): ApiError {
  return signal.reason instanceof ApiError
    ? signal.reason
    : new ApiError(grpc.status.CANCELLED, 'the call was cancelled');
}

/**
 * Waits for `work`, but no longer than the call's deadline and not past an abort. The timer and
 * abort listener are removed whichever way it ends; a later settlement of `work` is ignored
 * (it keeps its handler, so a late rejection is never unhandled).
 */
export function within<T>(context: CallContext, work: Promise<T>, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (context.signal.aborted) {
      work.catch(() => {});
      reject(abortReason(context.signal));
      return;
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      context.signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanup();
      reject(abortReason(context.signal));
    };
    const timer = setTimeout(
      () => {
        cleanup();
        reject(onTimeout());
      },
      Math.min(MAX_TIMER_MS, Math.max(0, remainingMs(context))),
    );
    context.signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
