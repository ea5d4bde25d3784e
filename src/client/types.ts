/** The client's public values: key-values with a text helper, and the results of each call. */
import type { ChildWire, KeyValueWire, ResponseHeaderWire } from './wire.js';

/** Keys and values may be given as text (encoded as UTF-8) or as raw bytes. */
export type Bytes = string | Uint8Array;

const decoder = new TextDecoder('utf-8');

export function toBytes(value: Bytes): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

export function bytesToText(value: Uint8Array): string {
  return decoder.decode(value);
}

export class KeyValue {
  constructor(
    readonly key: string,
    readonly value: Uint8Array,
    /** Revision of the put that created this incarnation of the key. */
    readonly createRevision: number,
    /** Revision of the last write to the key. */
    readonly modRevision: number,
    /** 1 on create, +1 per put; 0 in a delete event. */
    readonly version: number,
  ) {}

  /** The value decoded as UTF-8. */
  text(): string {
    return bytesToText(this.value);
  }

  static fromWire(wire: KeyValueWire): KeyValue {
    return new KeyValue(wire.key, wire.value, wire.createRevision, wire.modRevision, wire.version);
  }
}

export interface ResponseHeader {
  readonly clusterId: string;
  /** The member that answered. */
  readonly memberId: string;
  /** The store revision when the request was served. */
  readonly revision: number;
  readonly raftTerm: number;
}

export const EMPTY_HEADER: ResponseHeader = { clusterId: '', memberId: '', revision: 0, raftTerm: 0 };

export function headerFromWire(wire: ResponseHeaderWire | null): ResponseHeader {
  return wire === null ? EMPTY_HEADER : { ...wire };
}

/** One direct child name of a path (from a `children` read). */
export interface Child {
  readonly name: string;
  readonly key: string;
  /** A key exists exactly at this path (not only deeper keys). */
  readonly hasKey: boolean;
  readonly kv?: KeyValue;
}

export function childFromWire(wire: ChildWire): Child {
  return {
    name: wire.name,
    key: wire.key,
    hasKey: wire.hasKey,
    ...(wire.kv !== null ? { kv: KeyValue.fromWire(wire.kv) } : {}),
  };
}

export interface GetResult {
  readonly header: ResponseHeader;
  /** The store revision when the read was served. */
  readonly revision: number;
  /** Matching key-values in key order (empty for countOnly and for children reads). */
  readonly kvs: readonly KeyValue[];
  /** How many keys (or children) matched, regardless of limit. */
  readonly count: number;
  /** `limit` cut the result short. */
  readonly more: boolean;
  /** Only for children reads. */
  readonly children: readonly Child[];
}

export interface PutResult {
  readonly header: ResponseHeader;
  /** The revision this put created. */
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteResult {
  readonly header: ResponseHeader;
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

export type TxnOpResult =
  | { readonly type: 'get'; readonly result: GetResult }
  | { readonly type: 'put'; readonly result: PutResult }
  | { readonly type: 'delete'; readonly result: DeleteResult };

export interface TxnResult {
  readonly header: ResponseHeader;
  readonly revision: number;
  /** Whether every compare held (so `success` ran rather than `failure`). */
  readonly succeeded: boolean;
  /** One result per op of the branch that ran, in order. */
  readonly responses: readonly TxnOpResult[];
}

export interface Member {
  readonly id: string;
  readonly address: string;
  readonly isLearner: boolean;
}

export interface MemberProgress {
  readonly id: string;
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly recentActive: boolean;
}

export interface NodeStatus {
  readonly header: ResponseHeader;
  /** The endpoint this status was read from. */
  readonly endpoint: string;
  readonly id: string;
  /** The address the node advertises. */
  readonly address: string;
  /** follower, preCandidate, candidate or leader. */
  readonly role: string;
  readonly term: number;
  /** The leader's id; empty when the node knows none. */
  readonly leader: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly Member[];
  /** Replication progress of each member; only on the leader. */
  readonly progress: readonly MemberProgress[];
  readonly keys: number;
  readonly version: string;
}

/** One endpoint's answer to Status, or why there was none. */
export type EndpointStatus =
  | { readonly endpoint: string; readonly ok: true; readonly status: NodeStatus }
  | { readonly endpoint: string; readonly ok: false; readonly error: Error };

export interface MembersResult {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
  /** The leader's id; empty when none is known. */
  readonly leader: string;
}
