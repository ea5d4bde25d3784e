/**
 * The state machine's vocabulary: stored key-values, the replicated commands and their results.
 * Values are never copied on the way out: treat every returned Uint8Array as immutable.
 */
import type { StateMachineError } from './errors.js';

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision of the put that created this incarnation of the key (0 for a deletion marker). */
  readonly createRevision: number;
  /** Revision of the last write (put or delete) to the key. */
  readonly modRevision: number;
  /** 1 on create, +1 per put; 0 marks a deletion (a tombstone). */
  readonly version: number;
  /**
   * The session that owns this version of the key (it is ephemeral: deleted when the session
   * ends), or 0 when the key is persistent. Always 0 on a deletion marker.
   */
  readonly session: number;
}

/**
 * How a request's `key` selects keys: the key itself, every key starting with it, a path's
 * children, or every key from `key` (inclusive) up to `rangeEnd` (exclusive; absent = no end),
 * in key order (etcd's [key, range_end) ranges).
 */
export type RangeMode = 'exact' | 'prefix' | 'children' | 'interval';

export interface RangeRequest {
  readonly key: string;
  /** Default 'exact'. */
  readonly range?: RangeMode;
  /** The exclusive end of an 'interval' range (absent: every key from `key` on); only with 'interval'. */
  readonly rangeEnd?: string;
  /** Read as of this revision; absent or 0 means the current revision. */
  readonly revision?: number;
  /** Maximum number of kvs (or children) returned; absent or 0 means no limit. */
  readonly limit?: number;
  /** Return kvs with empty values. */
  readonly keysOnly?: boolean;
  /** Return only `count`. */
  readonly countOnly?: boolean;
}

/** One direct child name of a path; it exists if a key sits exactly at it or anywhere below it. */
export interface ChildEntry {
  readonly name: string;
  /** The child's full path (`parent/` + name). */
  readonly key: string;
  /** Whether a key exists exactly at the child's path (rather than only deeper keys under it). */
  readonly hasKey: boolean;
  /** The key-value exactly at the child's path, when `hasKey`. */
  readonly kv?: KeyValue;
}

export interface RangeResult {
  readonly type: 'range';
  /** The store's revision when the read was served (not the revision read at). */
  readonly revision: number;
  /** Matching key-values in key order; empty for countOnly and for 'children' reads. */
  readonly kvs: readonly KeyValue[];
  /** How many keys (or children) matched in total, regardless of `limit`. */
  readonly count: number;
  /** True when `limit` cut the result short. */
  readonly more: boolean;
  /** Present only for 'children' reads: child names in key order (empty for countOnly). */
  readonly children?: readonly ChildEntry[];
}

export interface PutCommand {
  readonly type: 'put';
  readonly key: string;
  readonly value: Uint8Array;
  /** Return the key-value as it was before this put. */
  readonly prevKv?: boolean;
  /**
   * Make the key ephemeral, owned by this open session (SESSION_NOT_FOUND otherwise). A put
   * without `session` makes the key persistent again, and a put with another session moves it
   * (etcd lease semantics). Must be a positive integer when given.
   */
  readonly session?: number;
  /**
   * Keep the key's current value (`value` must be empty): etcd's ignore_value. The key must
   * exist (KEY_NOT_FOUND otherwise).
   */
  readonly ignoreValue?: boolean;
  /**
   * Keep the key's current owner session (`session` must be absent): etcd's ignore_lease. The
   * key must exist (KEY_NOT_FOUND otherwise).
   */
  readonly ignoreSession?: boolean;
}

export interface DeleteCommand {
  readonly type: 'delete';
  readonly key: string;
  readonly prevKv?: boolean;
}

/** Deletes every key starting with `prefix` (which must not be empty). */
export interface DeleteRangeCommand {
  readonly type: 'deleteRange';
  readonly prefix: string;
  readonly prevKv?: boolean;
}

/** Deletes every key from `key` (inclusive) to `rangeEnd` (exclusive; absent = no end), etcd's DeleteRange. */
export interface DeleteIntervalCommand {
  readonly type: 'deleteInterval';
  /** May be empty: with no `rangeEnd` that deletes every key. */
  readonly key: string;
  readonly rangeEnd?: string;
  readonly prevKv?: boolean;
}

export interface RangeOp extends RangeRequest {
  readonly type: 'range';
}

/** A txn op: a write, a read, or a nested txn (its compares see the state before the outer txn's writes, as in etcd). */
export type TxnOp =
  PutCommand | DeleteCommand | DeleteRangeCommand | DeleteIntervalCommand | RangeOp | TxnCommand;

export type CompareOp = '=' | '!=' | '<' | '>';

/**
 * Which keys a compare looks at: `key` alone (default), every key starting with it, or the
 * interval [key, rangeEnd). Over a range every existing key must satisfy the compare; an empty
 * range compares as one missing key (etcd).
 */
export interface CompareRange {
  readonly range?: 'exact' | 'prefix' | 'interval';
  /** Only with 'interval': its exclusive end (absent = no end). */
  readonly rangeEnd?: string;
}

/** Byte-wise comparison of the key's current value; a missing key fails every value compare (etcd). */
export interface ValueCompare extends CompareRange {
  readonly key: string;
  readonly target: 'value';
  readonly op: CompareOp;
  readonly value: Uint8Array;
}

/**
 * Numeric comparison; a missing key counts as version, createRevision, modRevision and lease 0.
 * 'lease' compares the owner session (0: persistent).
 */
export interface NumberCompare extends CompareRange {
  readonly key: string;
  readonly target: 'version' | 'createRevision' | 'modRevision' | 'lease';
  readonly op: CompareOp;
  readonly value: number;
}

export type Compare = ValueCompare | NumberCompare;
export type CompareTarget = Compare['target'];

export interface TxnCommand {
  readonly type: 'txn';
  /** All must hold for `success` to run; otherwise `failure` runs. */
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** Forget history before `revision` (reads and watches at lower revisions get COMPACTED). */
export interface CompactCommand {
  readonly type: 'compact';
  readonly revision: number;
}

export interface NoopCommand {
  readonly type: 'noop';
}

/**
 * Opens a session (an etcd lease / ZooKeeper session). Its id is the one the client chose, or
 * the log index of the entry (the next free id above it if a client chose that one), so it is
 * the same on every replica. Writes no key: the revision does not change.
 */
export interface OpenSessionCommand {
  readonly type: 'openSession';
  /** MIN_SESSION_TTL_MS ..= MAX_SESSION_TTL_MS, an integer. */
  readonly ttlMs: number;
  /**
   * The id the client chose (etcd's LeaseGrant ID), a positive integer; SESSION_EXISTS if a
   * session with it is open. Absent: the entry's log index, or the next free id above it.
   */
  readonly sessionId?: number;
}

export type SessionCloseReason = 'closed' | 'expired';

/**
 * Ends a session: deletes every key it owns, all at one revision (none: the revision does not
 * change), then forgets it. SESSION_NOT_FOUND for an unknown (or already ended) session.
 */
export interface CloseSessionCommand {
  readonly type: 'closeSession';
  readonly sessionId: number;
  /** Why it ends: the client closed it, or the leader decided it expired. Does not change the outcome. */
  readonly reason: SessionCloseReason;
}

export interface SessionCheckpoint {
  readonly sessionId: number;
  /** What the leader's timer had left for this session, in ms (clamped to the session's TTL). */
  readonly remainingMs: number;
}

/**
 * Records each session's remaining TTL as the leader sees it, so a new leader can resume the
 * timers instead of restarting them. Unknown ids are ignored; a session id may appear once.
 * Writes no key: the revision does not change.
 */
export interface CheckpointSessionsCommand {
  readonly type: 'checkpointSessions';
  readonly sessions: readonly SessionCheckpoint[];
}

/**
 * ZooKeeper create: a node at `path` whose parent must exist (unless `parents`), that must not
 * exist yet, optionally ephemeral (`session`) and/or sequential. An ordinary key write otherwise
 * (createRevision = modRevision = the new revision, version 1, watch events).
 */
export interface CreateCommand {
  readonly type: 'create';
  /**
   * An absolute path (`/a/b`): leading `/`, no empty, `.` or `..` segment, no trailing `/`, no
   * NUL, not `/` itself. A sequential create appends its 10-digit suffix to this, so it may end
   * with `/` (`/queue/` gives `/queue/0000000003`).
   */
  readonly path: string;
  readonly value: Uint8Array;
  /** Make the node ephemeral, owned by this open session (a positive integer). */
  readonly session?: number;
  /** Append a per-parent, strictly increasing, zero-padded 10-digit counter to the name. */
  readonly sequential?: boolean;
  /** Create missing ancestors as persistent, empty nodes at the same revision (mkdir -p). */
  readonly parents?: boolean;
}

/** ZooKeeper delete: NO_NODE if absent, BAD_VERSION on a version mismatch, NOT_EMPTY if it has children. */
export interface DeleteNodeCommand {
  readonly type: 'deleteNode';
  readonly path: string;
  /** Delete only if the node's `version` (1 on create, +1 per write) equals this. */
  readonly expectedVersion?: number;
}

export type SessionCommand = OpenSessionCommand | CloseSessionCommand | CheckpointSessionsCommand;
export type TreeCommand = CreateCommand | DeleteNodeCommand;

export type Command =
  | PutCommand
  | DeleteCommand
  | DeleteRangeCommand
  | DeleteIntervalCommand
  | TxnCommand
  | CompactCommand
  | NoopCommand
  | SessionCommand
  | TreeCommand;
export type CommandType = Command['type'];

export interface PutResult {
  readonly type: 'put';
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteResult {
  readonly type: 'delete' | 'deleteRange' | 'deleteInterval';
  /** The store revision after the delete (unchanged when nothing was deleted). */
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: readonly KeyValue[];
}

export type TxnOpResult = PutResult | DeleteResult | RangeResult | TxnResult;

export interface TxnResult {
  readonly type: 'txn';
  /** The store revision after the txn (unchanged when it wrote nothing). */
  readonly revision: number;
  readonly succeeded: boolean;
  /** One per op of the branch that ran, in order. */
  readonly responses: readonly TxnOpResult[];
}

export interface CompactResult {
  readonly type: 'compact';
  readonly revision: number;
  readonly compactRevision: number;
}

export interface NoopResult {
  readonly type: 'noop';
  readonly revision: number;
}

export interface OpenSessionResult {
  readonly type: 'openSession';
  /** The new session's id (see OpenSessionCommand). */
  readonly sessionId: number;
  readonly ttlMs: number;
  /** The store revision (unchanged: opening a session writes no key). */
  readonly revision: number;
}

export interface CloseSessionResult {
  readonly type: 'closeSession';
  readonly sessionId: number;
  /** The store revision after the deletes (unchanged when the session owned no keys). */
  readonly revision: number;
  /** The keys deleted because the session owned them, in key order. */
  readonly deletedKeys: string[];
}

export interface CheckpointSessionsResult {
  readonly type: 'checkpointSessions';
  /** The store revision (unchanged). */
  readonly revision: number;
}

export interface CreateResult {
  readonly type: 'create';
  /** The node's actual path: for a sequential create, `path` plus its 10-digit suffix. */
  readonly path: string;
  /** The store revision after the create. */
  readonly revision: number;
  /** The node's createRevision (equal to `revision`). */
  readonly createRevision: number;
}

export interface DeleteNodeResult {
  readonly type: 'deleteNode';
  /** The store revision after the delete. */
  readonly revision: number;
}

export type CommandResult =
  | PutResult
  | DeleteResult
  | TxnResult
  | CompactResult
  | NoopResult
  | OpenSessionResult
  | CloseSessionResult
  | CheckpointSessionsResult
  | CreateResult
  | DeleteNodeResult;

/** A session as the state machine knows it (a query, not a command). */
export interface SessionInfo {
  readonly sessionId: number;
  readonly ttlMs: number;
  /** The remaining TTL the leader last checkpointed, or null if none was recorded yet. */
  readonly checkpointRemainingMs: number | null;
  /** The keys the session owns (its ephemeral keys), in key order. A fresh array. */
  readonly keys: string[];
}

/** A session's TTL and last checkpoint: SessionInfo without the keys. */
export type SessionTiming = Omit<SessionInfo, 'keys'>;

/** What apply() returns: a result, or a typed error that left the key space untouched. */
export type ApplyOutcome =
  | { readonly ok: true; readonly index: number; readonly result: CommandResult }
  | { readonly ok: false; readonly index: number; readonly error: StateMachineError };

/** A committed change to one key, as the watch hub sees it. A kv with version 0 is a deletion. */
export interface KeyChange {
  readonly kv: KeyValue;
  /** The key's live value just before this change, if it had one. */
  readonly prevKv: KeyValue | undefined;
}
