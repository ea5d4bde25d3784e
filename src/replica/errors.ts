import type { NodeId } from '../raft/types.js';

export type ReplicaErrorCode =
  /** This node is not the leader (leaderId names the one it knows, if any). */
  | 'NOT_LEADER'
  /** No leader is known: the cluster has no quorum or is electing. */
  | 'NO_LEADER'
  /** Leadership changed before the proposal was applied: it may or may not have been committed. */
  | 'LEADERSHIP_LOST'
  /** The log entry was replaced by another leader's: the proposal was not applied. */
  | 'PROPOSAL_DROPPED'
  /** The request did not complete in time; for a write the outcome is unknown. */
  | 'TIMEOUT'
  /** A leadership transfer is in progress: writes are refused until it ends (retry shortly). */
  | 'TRANSFER_IN_PROGRESS'
  /** The leader refused the request itself (a membership change while another is pending, an invalid change). */
  | 'REJECTED'
  /** The node is shutting down. */
  | 'STOPPED';

export class ReplicaError extends Error {
  constructor(
    readonly code: ReplicaErrorCode,
    message: string,
    readonly leaderId: NodeId | null = null,
  ) {
    super(message);
    this.name = 'ReplicaError';
  }
}
