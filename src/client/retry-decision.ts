/**
 * Whether a failed attempt may be tried again. Reads may always be repeated. A write may be
 * repeated only when we can PROVE it did not take effect: either it never left this process
 * (the channel was not ready), or the server itself answered with an error that does not carry
 * the "outcome unknown" trailer. A write whose connection broke after it was sent, or that
 * timed out, may have been applied: repeating it could apply it twice, so we surface
 * `outcomeUnknown` instead and let the caller read before deciding.
 */
import { SERVER_TRAILERS, type RaftreeErrorCode } from './errors.js';

export type AttemptFailure =
  | { readonly kind: 'notSent' }
  | {
      readonly kind: 'status';
      readonly code: RaftreeErrorCode;
      readonly trailers: Readonly<Record<string, string>>;
    };

export type RetryDecision =
  /** Try again (another endpoint first, if there is one). */
  | 'retry'
  /** Give up: the answer is final (bad input, compacted, ...). */
  | 'fail'
  /** Give up and tell the caller the write may have happened. */
  | 'outcomeUnknown';

/** Failures that say "not now / not here" rather than "no". */
const TRANSIENT: ReadonlySet<RaftreeErrorCode> = new Set<RaftreeErrorCode>([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'ABORTED',
  'CANCELLED',
  'UNKNOWN',
  'INTERNAL',
]);

export function decideRetry(idempotent: boolean, failure: AttemptFailure): RetryDecision {
  if (failure.kind === 'notSent') return 'retry';
  if (!TRANSIENT.has(failure.code)) return 'fail';
  if (idempotent) return failure.code === 'INTERNAL' ? 'fail' : 'retry';
  const answeredByServer = failure.trailers[SERVER_TRAILERS.memberId] !== undefined;
  const serverSaysUnknown = failure.trailers[SERVER_TRAILERS.outcome] === 'unknown';
  if (!answeredByServer || serverSaysUnknown) return 'outcomeUnknown';
  // The server refused the write before proposing it (no leader, not leader, stopping, ...).
  // INTERNAL from the server is a bug report, not a reason to try again.
  return failure.code === 'INTERNAL' ? 'fail' : 'retry';
}
