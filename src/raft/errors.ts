import type { NodeId } from './types.js';

export type RaftErrorCode =
  /** This node is not the leader; `leaderHint` names the leader it knows of, if any. */
  | 'NOT_LEADER'
  /** A leadership transfer is in progress; proposals are refused until it ends. */
  | 'TRANSFER_IN_PROGRESS'
  /** A membership change is still uncommitted or unapplied; only one may be pending. */
  | 'CONF_CHANGE_PENDING'
  /** The membership change makes no sense for the current configuration. */
  | 'INVALID_CONF_CHANGE'
  /** The request is malformed or out of range (a programming error of the host). */
  | 'INVALID_ARGUMENT';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly leaderHint: NodeId | null;

  constructor(code: RaftErrorCode, message: string, leaderHint: NodeId | null = null) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
    this.leaderHint = leaderHint;
  }
}

/** An internal invariant was violated: a bug, never an expected condition. Always on. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftInvariantError';
  }
}

export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}
