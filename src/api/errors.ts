/**
 * One error type for the API layer (a gRPC status code, a message a person can act on and a
 * few machine-readable trailers) and the mapping from the layers below to it.
 */
import * as grpc from '@grpc/grpc-js';
import { ReplicaError } from '../replica/errors.js';
import { StateMachineError, StateMachineErrorCode } from '../state-machine/index.js';

/** Trailing metadata keys the API sets on errors, for programs (documented in docs/api.md). */
export const Trailer = {
  /** The member that produced the error (lets a forwarding node tell "the leader said" from "unreachable"). */
  memberId: 'raftree-member-id',
  /** The leader this node knows of, and its address. */
  leaderId: 'raftree-leader-id',
  leaderAddress: 'raftree-leader-address',
  /** "unknown": a write may or may not have taken effect; read before retrying it. */
  outcome: 'raftree-outcome',
  /** The oldest revision still readable, on OUT_OF_RANGE for a compacted revision. */
  compactRevision: 'raftree-compact-revision',
  /** The store's current revision, on OUT_OF_RANGE for a future revision. */
  currentRevision: 'raftree-current-revision',
} as const;

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: grpc.status,
    message: string,
    readonly trailers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** The status object grpc-js sends (trailers plus the answering member). */
  toStatus(memberId: string): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.trailers)) metadata.set(key, value);
    if (metadata.get(Trailer.memberId).length === 0) metadata.set(Trailer.memberId, memberId);
    return { code: this.code, details: this.message, metadata };
  }
}

export const invalidArgument = (message: string): ApiError =>
  new ApiError(grpc.status.INVALID_ARGUMENT, message);
export const tooLarge = (message: string): ApiError => new ApiError(grpc.status.RESOURCE_EXHAUSTED, message);

export const NO_LEADER_MESSAGE = 'no leader: the cluster has no quorum or is electing; retry';

export function noLeader(detail?: string): ApiError {
  return new ApiError(
    grpc.status.UNAVAILABLE,
    detail === undefined ? NO_LEADER_MESSAGE : `${NO_LEADER_MESSAGE} (${detail})`,
  );
}

/** The write reached the log but we cannot tell whether it committed. */
export function outcomeUnknown(code: grpc.status, why: string): ApiError {
  return new ApiError(
    code,
    `${why}: the write's outcome is unknown (it may or may not have taken effect); read before retrying it`,
    { [Trailer.outcome]: 'unknown' },
  );
}

/** What kind of request failed: it decides the wording of timeouts and lost leadership. */
export type RequestKind = 'read' | 'write' | 'membership';

/** Maps anything a handler threw to an ApiError. Unknown errors are bugs: INTERNAL. */
export function toApiError(error: unknown, kind: RequestKind): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof StateMachineError) return fromStateMachineError(error);
  if (error instanceof ReplicaError) return fromReplicaError(error, kind);
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(grpc.status.INTERNAL, `internal error: ${message}`);
}

export function fromStateMachineError(error: StateMachineError): ApiError {
  switch (error.code) {
    case StateMachineErrorCode.InvalidArgument:
    case StateMachineErrorCode.DuplicateKey:
      return new ApiError(grpc.status.INVALID_ARGUMENT, error.message);
    case StateMachineErrorCode.Compacted:
      return new ApiError(
        grpc.status.OUT_OF_RANGE,
        `compacted: ${error.message}`,
        error.compactRevision === undefined
          ? {}
          : { [Trailer.compactRevision]: String(error.compactRevision) },
      );
    case StateMachineErrorCode.FutureRevision:
      return new ApiError(
        grpc.status.OUT_OF_RANGE,
        error.message,
        error.currentRevision === undefined
          ? {}
          : { [Trailer.currentRevision]: String(error.currentRevision) },
      );
    case StateMachineErrorCode.UnsupportedCommand:
      return new ApiError(grpc.status.FAILED_PRECONDITION, error.message);
    // Sessions and the tree (ZooKeeper's NoNode / NodeExists / NotEmpty / BadVersion ...).
    case StateMachineErrorCode.InvalidPath:
      return new ApiError(grpc.status.INVALID_ARGUMENT, error.message);
    case StateMachineErrorCode.SessionNotFound:
    case StateMachineErrorCode.NoNode:
    case StateMachineErrorCode.KeyNotFound:
      return new ApiError(grpc.status.NOT_FOUND, error.message);
    case StateMachineErrorCode.NodeExists:
    case StateMachineErrorCode.SessionExists:
      return new ApiError(grpc.status.ALREADY_EXISTS, error.message);
    case StateMachineErrorCode.NoParent:
    case StateMachineErrorCode.EphemeralParent:
    case StateMachineErrorCode.BadVersion:
    case StateMachineErrorCode.NotEmpty:
      return new ApiError(grpc.status.FAILED_PRECONDITION, error.message);
    default:
      // CORRUPT_COMMAND and the rest cannot come from a request this layer encoded: a bug.
      return new ApiError(grpc.status.INTERNAL, `internal error: ${error.message}`);
  }
}

function fromReplicaError(error: ReplicaError, kind: RequestKind): ApiError {
  const leader = error.leaderId === null ? {} : { [Trailer.leaderId]: error.leaderId };
  switch (error.code) {
    case 'NO_LEADER':
      return noLeader();
    case 'NOT_LEADER':
      return new ApiError(
        grpc.status.UNAVAILABLE,
        /retry/.test(error.message) ? error.message : `${error.message}; retry`,
        leader,
      );
    case 'LEADERSHIP_LOST':
      return kind === 'read'
        ? new ApiError(grpc.status.UNAVAILABLE, `leadership changed while serving the read; retry`)
        : outcomeUnknown(grpc.status.UNAVAILABLE, 'leadership changed before the request was applied');
    case 'TIMEOUT':
      return kind === 'read'
        ? new ApiError(grpc.status.UNAVAILABLE, error.message)
        : outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, error.message);
    case 'PROPOSAL_DROPPED':
      return new ApiError(grpc.status.ABORTED, error.message);
    case 'TRANSFER_IN_PROGRESS':
      return new ApiError(grpc.status.UNAVAILABLE, error.message, leader);
    case 'REJECTED':
      return new ApiError(grpc.status.FAILED_PRECONDITION, error.message);
    case 'STOPPED':
      return new ApiError(grpc.status.UNAVAILABLE, `${error.message}; retry on another member`);
  }
}
