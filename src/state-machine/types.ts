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
}

/** How a request's `key` selects keys: the key itself, every key starting with it, or a path's children. */
export type RangeMode = 'exact' | 'prefix' | 'children';

export interface RangeRequest {
  readonly key: string;
  /** Default 'exact'. */
  readonly range?: RangeMode;
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

export interface RangeOp extends RangeRequest {
  readonly type: 'range';
}

export type TxnOp = PutCommand | DeleteCommand | DeleteRangeCommand | RangeOp;

export type CompareOp = '=' | '!=' | '<' | '>';

/** Byte-wise comparison of the key's current value; a missing key fails every value compare (etcd). */
export interface ValueCompare {
  readonly key: string;
  readonly target: 'value';
  readonly op: CompareOp;
  readonly value: Uint8Array;
}

/** Numeric comparison; a missing key counts as version, createRevision and modRevision 0. */
export interface NumberCompare {
  readonly key: string;
  readonly target: 'version' | 'createRevision' | 'modRevision';
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

export type Command =
  PutCommand | DeleteCommand | DeleteRangeCommand | TxnCommand | CompactCommand | NoopCommand;
export type CommandType = Command['type'];

export interface PutResult {
  readonly type: 'put';
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteResult {
  readonly type: 'delete' | 'deleteRange';
  /** The store revision after the delete (unchanged when nothing was deleted). */
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: readonly KeyValue[];
}

export type TxnOpResult = PutResult | DeleteResult | RangeResult;

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

export type CommandResult = PutResult | DeleteResult | TxnResult | CompactResult | NoopResult;

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
