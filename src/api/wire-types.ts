/**
 * The shapes @grpc/proto-loader makes of proto/raftree.proto with the options in proto.ts
 * (camelCase fields, int64 as number, enums as numbers, defaults filled in, oneofs named by a
 * virtual field, bytes as Buffer). Requests are untrusted: handlers read them through the
 * checked readers in validation.ts, never by trusting these types alone.
 */

export interface ResponseHeaderWire {
  readonly clusterId: string;
  readonly memberId: string;
  readonly revision: number;
  readonly raftTerm: number;
}

export interface KeyValueWire {
  readonly key: string;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

/** proto RangeMode. */
export const RangeModeWire = { EXACT: 0, PREFIX: 1, CHILDREN: 2 } as const;

export interface RangeRequestWire {
  readonly key: string;
  readonly mode: number;
  readonly revision: number;
  readonly limit: number;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  readonly serializable: boolean;
}

export interface ChildWire {
  readonly name: string;
  readonly key: string;
  readonly hasKey: boolean;
  readonly kv: KeyValueWire | null;
}

export interface RangeResponseWire {
  readonly header: ResponseHeaderWire;
  readonly kvs: readonly KeyValueWire[];
  readonly count: number;
  readonly more: boolean;
  readonly children: readonly ChildWire[];
}

export interface PutRequestWire {
  readonly key: string;
  readonly value: Uint8Array;
  readonly prevKv: boolean;
}

export interface PutResponseWire {
  readonly header: ResponseHeaderWire;
  readonly prevKv: KeyValueWire | null;
}

export interface DeleteRequestWire {
  readonly key: string;
  readonly prefix: boolean;
  readonly prevKv: boolean;
}

export interface DeleteResponseWire {
  readonly header: ResponseHeaderWire;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValueWire[];
}

/** proto Compare.Target and Compare.Result. */
export const CompareTargetWire = { VALUE: 0, VERSION: 1, CREATE_REVISION: 2, MOD_REVISION: 3 } as const;
export const CompareResultWire = { EQUAL: 0, NOT_EQUAL: 1, LESS: 2, GREATER: 3 } as const;

export interface CompareWire {
  readonly key: string;
  readonly target: number;
  readonly result: number;
  readonly value: Uint8Array;
  readonly number: number;
}

export interface RequestOpWire {
  /** Which member of the oneof is set (absent when none is). */
  readonly request?: 'range' | 'put' | 'delete';
  readonly range?: RangeRequestWire | null;
  readonly put?: PutRequestWire | null;
  readonly delete?: DeleteRequestWire | null;
}

export type ResponseOpWire =
  | { readonly range: RangeResponseWire }
  | { readonly put: PutResponseWire }
  | { readonly delete: DeleteResponseWire };

export interface TxnRequestWire {
  readonly compare: readonly CompareWire[];
  readonly success: readonly RequestOpWire[];
  readonly failure: readonly RequestOpWire[];
}

export interface TxnResponseWire {
  readonly header: ResponseHeaderWire;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOpWire[];
}

export interface CompactRequestWire {
  readonly revision: number;
}

export interface CompactResponseWire {
  readonly header: ResponseHeaderWire;
}

// --- Watch -------------------------------------------------------------------------------------

export interface WatchCreateRequestWire {
  readonly key: string;
  readonly mode: number;
  readonly startRevision: number;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly watchId: number;
}

export interface WatchCancelRequestWire {
  readonly watchId: number;
}

export interface WatchRequestWire {
  readonly request?: 'create' | 'cancel' | 'progress';
  readonly create?: WatchCreateRequestWire | null;
  readonly cancel?: WatchCancelRequestWire | null;
  readonly progress?: object | null;
}

/** proto Event.EventType. */
export const EventTypeWire = { PUT: 0, DELETE: 1 } as const;

export interface EventWire {
  readonly type: number;
  readonly kv: KeyValueWire;
  readonly prevKv?: KeyValueWire;
}

export interface WatchResponseWire {
  readonly header: ResponseHeaderWire;
  readonly watchId: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly cancelReason?: string;
  readonly compactRevision?: number;
  readonly events?: readonly EventWire[];
  readonly progress?: boolean;
}

// --- Cluster -----------------------------------------------------------------------------------

export interface MemberWire {
  readonly id: string;
  readonly address: string;
  readonly isLearner: boolean;
}

export interface MemberProgressWire {
  readonly id: string;
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly recentActive: boolean;
}

export type EmptyRequestWire = object;

export interface StatusResponseWire {
  readonly header: ResponseHeaderWire;
  readonly id: string;
  readonly address: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly MemberWire[];
  readonly progress: readonly MemberProgressWire[];
  readonly keys: number;
  readonly version: string;
}

export interface MembersResponseWire {
  readonly header: ResponseHeaderWire;
  readonly members: readonly MemberWire[];
  readonly leader: string;
}

export interface MemberAddRequestWire {
  readonly id: string;
  readonly address: string;
  readonly learner: boolean;
}

export interface MemberRemoveRequestWire {
  readonly id: string;
}

export interface MembershipResponseWire {
  readonly header: ResponseHeaderWire;
  readonly members: readonly MemberWire[];
}

export interface TransferLeadershipRequestWire {
  readonly target: string;
}

export interface TransferLeadershipResponseWire {
  readonly header: ResponseHeaderWire;
}
