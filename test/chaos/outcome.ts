/**
 * Deciding what a client error proves. `fail` claims the operation certainly did not take
 * effect, and the linearizability check then holds the cluster to it; so it is used only with
 * proof, everything else is `info` (may or may not have happened).
 */
import { RaftreeError } from '../../src/client/index.js';
import type { KvInput } from '../support/linearizability/index.js';

const MEMBER_TRAILER = 'raftree-member-id';
const OUTCOME_TRAILER = 'raftree-outcome';

export interface ErrorOutcome {
  readonly type: 'fail' | 'info';
  readonly reason: string;
}

export function classifyError(input: KvInput, error: unknown): ErrorOutcome {
  if (!(error instanceof RaftreeError)) {
    return {
      type: 'info',
      reason: `not a RaftreeError: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const reason = `${error.code}: ${error.details}`.slice(0, 300);
  // A read that failed observed nothing; either label drops it from the check.
  if (input.f === 'get') return { type: 'fail', reason };
  // The client never got a connection, so the request never left this process.
  if (error.notSent) return { type: 'fail', reason };
  if (error.outcomeUnknown) return { type: 'info', reason };
  // A server answered with its own error and did not mark the outcome unknown: it refused the
  // write before proposing it (bad input, not leader, no leader...). The client retries those
  // and reports the last one, so every attempt was refused too.
  const answeredByServer = error.trailers[MEMBER_TRAILER] !== undefined;
  if (answeredByServer && error.trailers[OUTCOME_TRAILER] !== 'unknown') return { type: 'fail', reason };
  // A broken connection, a local deadline, anything else: the write may have been applied.
  return { type: 'info', reason };
}
