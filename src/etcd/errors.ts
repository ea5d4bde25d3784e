/**
 * etcd's error catalogue and the mapping of raftree's own errors onto it.
 *
 * etcd clients recognise server errors by their exact message (Go's clientv3 through
 * rpctypes.Error, the npm etcd3 client by substring) and decide about retries by the gRPC
 * code, so both are byte-exact copies of etcd 3.4's api/v3rpc/rpctypes/error.go. Where etcd has
 * no equivalent the raftree message and code stand as they are.
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError, NO_LEADER_MESSAGE, Trailer } from '../api/errors.js';
import { RejectedRequest } from '../api/proto.js';
import { ReplicaError } from '../replica/errors.js';
import { StateMachineError, StateMachineErrorCode } from '../state-machine/index.js';

export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  /** Raftree's machine-readable trailers (api/errors.ts Trailer); etcd clients ignore them. */
  readonly trailers: Readonly<Record<string, string>>;

  constructor(
    readonly code: grpc.status,
    message: string,
    trailers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.trailers = Object.freeze({ ...trailers });
  }

  /** Same code and message: what an etcd client would take for the same error. */
  is(other: EtcdError): boolean {
    return this.code === other.code && this.message === other.message;
  }

  /** A copy with `trailers` added (the catalogue's entries are shared and frozen). */
  withTrailers(trailers: Readonly<Record<string, string>>): EtcdError {
    if (Object.keys(trailers).length === 0) return this;
    return new EtcdError(this.code, this.message, { ...this.trailers, ...trailers });
  }

  /**
   * The status grpc-js sends. Pass the answering member's id: a follower forwarding the call
   * tells "the leader answered" from "the leader was unreachable" by the member-id trailer.
   */
  toStatus(memberId?: string): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.trailers)) metadata.set(key, value);
    if (memberId !== undefined && metadata.get(Trailer.memberId).length === 0) {
      metadata.set(Trailer.memberId, memberId);
    }
    return { code: this.code, details: this.message, metadata };
  }
}

const e = (code: grpc.status, message: string): EtcdError => new EtcdError(code, message);
const { INVALID_ARGUMENT, OUT_OF_RANGE, RESOURCE_EXHAUSTED, NOT_FOUND, FAILED_PRECONDITION } = grpc.status;
const { PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE, DATA_LOSS, UNKNOWN } = grpc.status;

/**
 * etcd 3.4's server errors (rpctypes ErrGRPC*), and the election service's. Throw them as they
 * are, or `.withTrailers(...)` to add raftree's trailers.
 */
export const EtcdErrors = Object.freeze({
  emptyKey: e(INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: e(INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: e(INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: e(INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: e(INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: e(OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),

  leaseNotFound: e(NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: e(FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(OUT_OF_RANGE, 'etcdserver: too large lease TTL'),

  memberExist: e(FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExist: e(FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: e(
    FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ),
  memberBadURLs: e(INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotFound: e(NOT_FOUND, 'etcdserver: member not found'),
  memberNotLearner: e(FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(
    FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  tooManyLearners: e(FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'),

  requestTooLarge: e(INVALID_ARGUMENT, 'etcdserver: request is too large'),
  tooManyRequests: e(RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),

  rootUserNotExist: e(FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  rootRoleNotExist: e(FAILED_PRECONDITION, 'etcdserver: root user does not have root role'),
  userAlreadyExist: e(FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  userEmpty: e(INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  userNotFound: e(FAILED_PRECONDITION, 'etcdserver: user name not found'),
  roleAlreadyExist: e(FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  roleNotFound: e(FAILED_PRECONDITION, 'etcdserver: role name not found'),
  roleEmpty: e(INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  authFailed: e(INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'),
  permissionDenied: e(PERMISSION_DENIED, 'etcdserver: permission denied'),
  roleNotGranted: e(FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: e(FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role'),
  authNotEnabled: e(FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: e(UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  invalidAuthMgmt: e(INVALID_ARGUMENT, 'etcdserver: invalid auth management'),

  noLeader: e(UNAVAILABLE, 'etcdserver: no leader'),
  // FAILED_PRECONDITION, so clients do not retry it: etcd only sends it for leader-only calls
  // (MoveLeader) made on a follower, never for a request it could have forwarded.
  notLeader: e(FAILED_PRECONDITION, 'etcdserver: not leader'),
  leaderChanged: e(UNAVAILABLE, 'etcdserver: leader changed'),
  notCapable: e(UNAVAILABLE, 'etcdserver: not capable'),
  stopped: e(UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: e(UNAVAILABLE, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: e(
    UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ),
  timeoutDueToConnectionLost: e(
    UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ),
  unhealthy: e(UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  corrupt: e(DATA_LOSS, 'etcdserver: corrupt cluster'),
  notSupportedForLearner: e(UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
  badLeaderTransferee: e(FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),

  // etcd's election service returns plain Go errors (clientv3/concurrency and v3election),
  // which grpc-go sends as UNKNOWN with the error's text.
  electionNotLeader: e(UNKNOWN, 'election: not leader'),
  electionNoLeader: e(UNKNOWN, 'election: no leader'),
  electionMissingLeaderKey: e(UNKNOWN, '"leader" field must be provided'),
} as const);

export type EtcdErrorName = keyof typeof EtcdErrors;

const OUTCOME_UNKNOWN = { [Trailer.outcome]: 'unknown' } as const;

/**
 * Maps anything a handler threw to an EtcdError: etcd's own error where raftree's means the
 * same thing (clients act on those), otherwise raftree's code and message unchanged. Unknown
 * errors are bugs: INTERNAL.
 */
export function toEtcdError(error: unknown): EtcdError {
  if (error instanceof EtcdError) return error;
  if (error instanceof StateMachineError) return fromStateMachineError(error);
  if (error instanceof ReplicaError) return fromReplicaError(error);
  if (error instanceof ApiError) return fromApiError(error);
  if (error instanceof RejectedRequest) {
    // guardedService's verdicts on the request bytes: too large, or not decodable.
    return error.code === RESOURCE_EXHAUSTED
      ? EtcdErrors.requestTooLarge
      : new EtcdError(error.code, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EtcdError(grpc.status.INTERNAL, `internal error: ${message}`);
}

function fromStateMachineError(error: StateMachineError): EtcdError {
  switch (error.code) {
    case StateMachineErrorCode.Compacted:
      return EtcdErrors.compacted.withTrailers(
        error.compactRevision === undefined
          ? {}
          : { [Trailer.compactRevision]: String(error.compactRevision) },
      );
    case StateMachineErrorCode.FutureRevision:
      return EtcdErrors.futureRev.withTrailers(
        error.currentRevision === undefined
          ? {}
          : { [Trailer.currentRevision]: String(error.currentRevision) },
      );
    case StateMachineErrorCode.DuplicateKey:
      return EtcdErrors.duplicateKey;
    // An etcd lease is a raftree session.
    case StateMachineErrorCode.SessionNotFound:
      return EtcdErrors.leaseNotFound;
    case StateMachineErrorCode.SessionExists:
      return EtcdErrors.leaseExist;
    // A put with ignore_value / ignore_lease on a missing key.
    case StateMachineErrorCode.KeyNotFound:
      return EtcdErrors.keyNotFound;
    case StateMachineErrorCode.InvalidArgument:
    case StateMachineErrorCode.InvalidPath:
      return new EtcdError(INVALID_ARGUMENT, error.message);
    case StateMachineErrorCode.NoNode:
      return new EtcdError(NOT_FOUND, error.message);
    case StateMachineErrorCode.NodeExists:
      return new EtcdError(grpc.status.ALREADY_EXISTS, error.message);
    case StateMachineErrorCode.UnsupportedCommand:
    case StateMachineErrorCode.NoParent:
    case StateMachineErrorCode.EphemeralParent:
    case StateMachineErrorCode.BadVersion:
    case StateMachineErrorCode.NotEmpty:
      return new EtcdError(FAILED_PRECONDITION, error.message);
    case StateMachineErrorCode.WatchCancelled:
      return new EtcdError(grpc.status.CANCELLED, error.message);
    // The watcher fell behind or its history was replaced: watching again recovers.
    case StateMachineErrorCode.WatcherTooSlow:
    case StateMachineErrorCode.StateRestored:
      return new EtcdError(UNAVAILABLE, error.message);
    default:
      // CORRUPT_COMMAND, ALREADY_APPLIED, LISTENER_FAILED, INTERNAL...: not a request's fault.
      return new EtcdError(grpc.status.INTERNAL, `internal error: ${error.message}`);
  }
}

function fromReplicaError(error: ReplicaError): EtcdError {
  const leader = error.leaderId === null ? {} : { [Trailer.leaderId]: error.leaderId };
  switch (error.code) {
    case 'NO_LEADER':
      return EtcdErrors.noLeader;
    // Leadership moved under a request that was not forwarded: retryable, unlike etcd's
    // notLeader (which only leader-only calls should throw, explicitly).
    case 'NOT_LEADER':
      return error.leaderId === null ? EtcdErrors.noLeader : EtcdErrors.leaderChanged.withTrailers(leader);
    case 'LEADERSHIP_LOST':
      return EtcdErrors.leaderChanged.withTrailers(OUTCOME_UNKNOWN);
    // Replaced by another leader's entry: certainly not applied, so a plain retry is safe.
    case 'PROPOSAL_DROPPED':
      return EtcdErrors.leaderChanged;
    case 'TIMEOUT':
      return EtcdErrors.timeout.withTrailers(OUTCOME_UNKNOWN);
    case 'STOPPED':
      return EtcdErrors.stopped;
    case 'TRANSFER_IN_PROGRESS':
      return new EtcdError(UNAVAILABLE, error.message, leader);
    case 'REJECTED':
      return new EtcdError(FAILED_PRECONDITION, error.message);
  }
}

// The API layer has already turned state-machine and replica errors into ApiErrors when a
// handler reuses its helpers (proposeCommand, LeaderRouter); recognise the ones etcd names.
// The two message tests below lock onto texts built in src/state-machine/ (sessionNotFound,
// duplicateKey); test/unit/etcd-proto.test.ts checks they still match.
const SESSION_NOT_FOUND_TEXT = 'does not exist (it was never opened, or it was closed or expired)';
const DUPLICATE_KEY_TEXT = 'duplicate key given in txn request';
const LEADERSHIP_CHANGED_TEXT = 'leadership changed';

function fromApiError(error: ApiError): EtcdError {
  const { code, message, trailers } = error;
  const outcomeUnknown = trailers[Trailer.outcome] === 'unknown';
  if (code === UNAVAILABLE && message.startsWith(NO_LEADER_MESSAGE)) {
    return EtcdErrors.noLeader.withTrailers(trailers);
  }
  if (code === OUT_OF_RANGE && trailers[Trailer.compactRevision] !== undefined) {
    return EtcdErrors.compacted.withTrailers(trailers);
  }
  if (code === OUT_OF_RANGE && trailers[Trailer.currentRevision] !== undefined) {
    return EtcdErrors.futureRev.withTrailers(trailers);
  }
  if (code === INVALID_ARGUMENT && message.startsWith(DUPLICATE_KEY_TEXT)) {
    return EtcdErrors.duplicateKey.withTrailers(trailers);
  }
  if (code === NOT_FOUND && message.includes(SESSION_NOT_FOUND_TEXT)) {
    return EtcdErrors.leaseNotFound.withTrailers(trailers);
  }
  if (outcomeUnknown && code === grpc.status.DEADLINE_EXCEEDED) {
    return EtcdErrors.timeout.withTrailers(trailers);
  }
  if (outcomeUnknown && code === UNAVAILABLE && message.startsWith(LEADERSHIP_CHANGED_TEXT)) {
    return EtcdErrors.leaderChanged.withTrailers(trailers);
  }
  return new EtcdError(code, message, trailers);
}
