/**
 * The shapes @grpc/proto-loader makes of proto/etcd/ with the options in proto.ts: etcd's own
 * field names (keepCase), int64 and uint64 as decimal strings (member and cluster ids use all
 * 64 bits), enums as plain numbers (an unknown value arrives as itself, for validation to
 * refuse), bytes as Buffer, defaults filled in, and every oneof named by a virtual field.
 *
 * What decoding produces, and what these types therefore promise about requests:
 * - An absent scalar or bytes field is its default: '0', false, '', 0 or an empty Buffer.
 * - An absent message field is null (e.g. ResignRequest.leader), except inside a oneof.
 * - A oneof whose member is absent has neither the member nor the virtual field (both are
 *   undefined); a set member is present even when it is zero ('0', empty bytes, `{}`), and the
 *   virtual field names it. A sender that breaks the rules and sets two members gets both on
 *   the decoded object with the virtual field naming the last on the wire: read the member
 *   the virtual field names, never "whichever is present".
 * - Decoded Buffers are views into the received message, not copies: copy before keeping one
 *   long-term, or it pins the whole request in memory.
 *
 * Responses are what handlers write. Encoding ignores the virtual oneof fields and unknown
 * properties, accepts any Uint8Array for bytes and decimal strings for 64-bit integers. Never
 * pass a JS string for a bytes field: protobufjs decodes it as base64. Every response carries
 * a header: etcd clients read `header.revision` without checking for null.
 */

// ---- Enums (numbers as on the wire; request fields stay `number` because any value can arrive)

/** RangeRequest.SortOrder. */
export const SortOrder = Object.freeze({ NONE: 0, ASCEND: 1, DESCEND: 2 } as const);
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** RangeRequest.SortTarget. */
export const SortTarget = Object.freeze({ KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const);
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/** Compare.CompareResult. */
export const CompareResult = Object.freeze({ EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const);
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

/** Compare.CompareTarget: which target_union member must be set (VERSION → version, ...). */
export const CompareTarget = Object.freeze({ VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const);
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/** WatchCreateRequest.FilterType: the event type the filter drops. */
export const FilterType = Object.freeze({ NOPUT: 0, NODELETE: 1 } as const);
export type FilterType = (typeof FilterType)[keyof typeof FilterType];

/** mvccpb.Event.EventType. */
export const EventType = Object.freeze({ PUT: 0, DELETE: 1 } as const);
export type EventType = (typeof EventType)[keyof typeof EventType];

/** etcdserverpb.AlarmType. */
export const AlarmType = Object.freeze({ NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const);
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];

/** AlarmRequest.AlarmAction. */
export const AlarmAction = Object.freeze({ GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const);
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];

/** authpb.Permission.Type. */
export const PermissionType = Object.freeze({ READ: 0, WRITE: 1, READWRITE: 2 } as const);
export type PermissionType = (typeof PermissionType)[keyof typeof PermissionType];

// ---- Shared --------------------------------------------------------------------------------

/** A request message without fields (StatusRequest, MemberListRequest, ...): decodes to `{}`. */
export type EmptyRequestWire = Readonly<Record<string, never>>;

/** A 64-bit integer as its two 32-bit words, the shape protobufjs's Long.fromValue reads directly. */
export interface Uint64Words {
  readonly low: number;
  readonly high: number;
  readonly unsigned: true;
}

/**
 * Decoded, the header's fields are decimal strings (like every 64-bit field here). The server
 * builds its own headers with the ids as words and the counters as numbers: turning four decimal
 * strings back into 64-bit integers (Long.fromString) was 95 ms of a leader's profile of puts,
 * and encoding a header took 1.6-1.8 µs that way against 0.4-0.8 µs now (a micro-benchmark),
 * for the same bytes.
 */
export interface ResponseHeaderWire {
  /** uint64. */
  readonly cluster_id: string | Uint64Words;
  /** uint64. */
  readonly member_id: string | Uint64Words;
  /** int64. */
  readonly revision: string | number;
  /** uint64. */
  readonly raft_term: string | number;
}

/** The many responses that carry nothing but the header. */
export interface HeaderOnlyResponseWire {
  readonly header: ResponseHeaderWire;
}

/** mvccpb.KeyValue (int64 fields as strings). */
export interface KeyValueWire {
  readonly key: Uint8Array;
  readonly create_revision: string;
  readonly mod_revision: string;
  readonly version: string;
  readonly value: Uint8Array;
  readonly lease: string;
}

/** mvccpb.Event. */
export interface EventWire {
  /** EventType. */
  readonly type: number;
  readonly kv: KeyValueWire;
  /** null unless the watcher asked for prev_kv and the key existed before. */
  readonly prev_kv: KeyValueWire | null;
}

// ---- KV requests ---------------------------------------------------------------------------

export interface RangeRequestWire {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly limit: string;
  readonly revision: string;
  /** SortOrder. */
  readonly sort_order: number;
  /** SortTarget. */
  readonly sort_target: number;
  readonly serializable: boolean;
  readonly keys_only: boolean;
  readonly count_only: boolean;
  readonly min_mod_revision: string;
  readonly max_mod_revision: string;
  readonly min_create_revision: string;
  readonly max_create_revision: string;
}

export interface PutRequestWire {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly lease: string;
  readonly prev_kv: boolean;
  readonly ignore_value: boolean;
  readonly ignore_lease: boolean;
}

export interface DeleteRangeRequestWire {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly prev_kv: boolean;
}

/** oneof `request`; the last variant is a RequestOp with no member set (a client bug to refuse). */
export type RequestOpWire =
  | { readonly request: 'request_range'; readonly request_range: RangeRequestWire }
  | { readonly request: 'request_put'; readonly request_put: PutRequestWire }
  | { readonly request: 'request_delete_range'; readonly request_delete_range: DeleteRangeRequestWire }
  | { readonly request: 'request_txn'; readonly request_txn: TxnRequestWire }
  | { readonly request?: undefined };

interface CompareFieldsWire {
  /** CompareResult. */
  readonly result: number;
  /** CompareTarget. */
  readonly target: number;
  readonly key: Buffer;
  /** Empty: compare `key` alone. */
  readonly range_end: Buffer;
}

/**
 * Compare with its oneof `target_union`. Nothing ties the set member to `target` on the wire:
 * a handler must check that they agree (etcd compares against the member `target` names).
 */
export type CompareWire = CompareFieldsWire &
  (
    | { readonly target_union: 'version'; readonly version: string }
    | { readonly target_union: 'create_revision'; readonly create_revision: string }
    | { readonly target_union: 'mod_revision'; readonly mod_revision: string }
    | { readonly target_union: 'value'; readonly value: Buffer }
    | { readonly target_union: 'lease'; readonly lease: string }
    | { readonly target_union?: undefined }
  );

export interface TxnRequestWire {
  readonly compare: readonly CompareWire[];
  readonly success: readonly RequestOpWire[];
  readonly failure: readonly RequestOpWire[];
}

export interface CompactionRequestWire {
  readonly revision: string;
  readonly physical: boolean;
}

// ---- KV responses --------------------------------------------------------------------------

export interface RangeResponseWire {
  readonly header: ResponseHeaderWire;
  readonly kvs: readonly KeyValueWire[];
  readonly more: boolean;
  readonly count: string;
}

export interface PutResponseWire {
  readonly header: ResponseHeaderWire;
  readonly prev_kv: KeyValueWire | null;
}

export interface DeleteRangeResponseWire {
  readonly header: ResponseHeaderWire;
  readonly deleted: string;
  readonly prev_kvs: readonly KeyValueWire[];
}

/** oneof `response`: one per RequestOp of the branch that ran, in the same order. */
export type ResponseOpWire =
  | { readonly response: 'response_range'; readonly response_range: RangeResponseWire }
  | { readonly response: 'response_put'; readonly response_put: PutResponseWire }
  | { readonly response: 'response_delete_range'; readonly response_delete_range: DeleteRangeResponseWire }
  | { readonly response: 'response_txn'; readonly response_txn: TxnResponseWire };

export interface TxnResponseWire {
  readonly header: ResponseHeaderWire;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOpWire[];
}

export type CompactionResponseWire = HeaderOnlyResponseWire;

// ---- Watch ---------------------------------------------------------------------------------

export interface WatchCreateRequestWire {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly start_revision: string;
  readonly progress_notify: boolean;
  /** FilterType values (packed or not on the wire; both decode the same). */
  readonly filters: readonly number[];
  readonly prev_kv: boolean;
  /** '0': the server picks the id. */
  readonly watch_id: string;
  readonly fragment: boolean;
}

export interface WatchCancelRequestWire {
  readonly watch_id: string;
}

export type WatchProgressRequestWire = EmptyRequestWire;

/** oneof `request_union`; the last variant is a WatchRequest with nothing set. */
export type WatchRequestWire =
  | { readonly request_union: 'create_request'; readonly create_request: WatchCreateRequestWire }
  | { readonly request_union: 'cancel_request'; readonly cancel_request: WatchCancelRequestWire }
  | { readonly request_union: 'progress_request'; readonly progress_request: WatchProgressRequestWire }
  | { readonly request_union?: undefined };

export interface WatchResponseWire {
  readonly header: ResponseHeaderWire;
  readonly watch_id: string;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compact_revision: string;
  readonly cancel_reason: string;
  readonly fragment: boolean;
  readonly events: readonly EventWire[];
}

// ---- Lease ---------------------------------------------------------------------------------

export interface LeaseGrantRequestWire {
  readonly TTL: string;
  /** '0': the server picks the id. */
  readonly ID: string;
}

export interface LeaseGrantResponseWire {
  readonly header: ResponseHeaderWire;
  readonly ID: string;
  readonly TTL: string;
  readonly error: string;
}

export interface LeaseRevokeRequestWire {
  readonly ID: string;
}

export type LeaseRevokeResponseWire = HeaderOnlyResponseWire;

export interface LeaseKeepAliveRequestWire {
  readonly ID: string;
}

export interface LeaseKeepAliveResponseWire {
  readonly header: ResponseHeaderWire;
  readonly ID: string;
  /** '0' (or less) tells the client the lease is gone. */
  readonly TTL: string;
}

export interface LeaseTimeToLiveRequestWire {
  readonly ID: string;
  readonly keys: boolean;
}

export interface LeaseTimeToLiveResponseWire {
  readonly header: ResponseHeaderWire;
  readonly ID: string;
  /** '-1' when the lease does not exist. */
  readonly TTL: string;
  readonly grantedTTL: string;
  readonly keys: readonly Uint8Array[];
}

export type LeaseLeasesRequestWire = EmptyRequestWire;

export interface LeaseStatusWire {
  readonly ID: string;
}

export interface LeaseLeasesResponseWire {
  readonly header: ResponseHeaderWire;
  readonly leases: readonly LeaseStatusWire[];
}

// ---- Cluster -------------------------------------------------------------------------------

export interface MemberWire {
  /** uint64. */
  readonly ID: string;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberAddRequestWire {
  readonly peerURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberAddResponseWire {
  readonly header: ResponseHeaderWire;
  readonly member: MemberWire;
  readonly members: readonly MemberWire[];
}

export interface MemberRemoveRequestWire {
  readonly ID: string;
}

export interface MemberUpdateRequestWire {
  readonly ID: string;
  readonly peerURLs: readonly string[];
}

export type MemberListRequestWire = EmptyRequestWire;

export interface MemberPromoteRequestWire {
  readonly ID: string;
}

/** MemberRemove/Update/List/PromoteResponse: the members after the change. */
export interface MembersResponseWire {
  readonly header: ResponseHeaderWire;
  readonly members: readonly MemberWire[];
}

export type MemberRemoveResponseWire = MembersResponseWire;
export type MemberUpdateResponseWire = MembersResponseWire;
export type MemberListResponseWire = MembersResponseWire;
export type MemberPromoteResponseWire = MembersResponseWire;

// ---- Maintenance ---------------------------------------------------------------------------

export interface AlarmRequestWire {
  /** AlarmAction. */
  readonly action: number;
  /** uint64; '0' means every member. */
  readonly memberID: string;
  /** AlarmType. */
  readonly alarm: number;
}

export interface AlarmMemberWire {
  readonly memberID: string;
  /** AlarmType. */
  readonly alarm: number;
}

/** etcd 3.4 sends Alarm, Defragment, MoveLeader and Snapshot responses without a header. */
export interface NoHeaderWire {
  readonly header: null;
}

export interface AlarmResponseWire {
  readonly header: null;
  readonly alarms: readonly AlarmMemberWire[];
}

export type StatusRequestWire = EmptyRequestWire;

export interface StatusResponseWire {
  readonly header: ResponseHeaderWire;
  readonly version: string;
  readonly dbSize: string;
  /** uint64 member id; '0' when no leader is known. */
  readonly leader: string;
  readonly raftIndex: string;
  readonly raftTerm: string;
  readonly raftAppliedIndex: string;
  readonly errors: readonly string[];
  readonly dbSizeInUse: string;
  readonly isLearner: boolean;
}

export type DefragmentRequestWire = EmptyRequestWire;
export type DefragmentResponseWire = NoHeaderWire;

export type HashRequestWire = EmptyRequestWire;

export interface HashResponseWire {
  readonly header: ResponseHeaderWire;
  /** uint32: a number, unlike the 64-bit fields. */
  readonly hash: number;
}

export interface HashKVRequestWire {
  readonly revision: string;
}

export interface HashKVResponseWire {
  readonly header: ResponseHeaderWire;
  /** uint32. */
  readonly hash: number;
  readonly compact_revision: string;
}

export type SnapshotRequestWire = EmptyRequestWire;

export interface SnapshotResponseWire {
  readonly header: null;
  readonly remaining_bytes: string;
  readonly blob: Uint8Array;
}

export interface MoveLeaderRequestWire {
  /** uint64 member id. */
  readonly targetID: string;
}

export type MoveLeaderResponseWire = NoHeaderWire;

// ---- Auth (raftree has none; enough to answer the calls) ------------------------------------

export interface AuthenticateRequestWire {
  readonly name: string;
  readonly password: string;
}

export interface AuthenticateResponseWire {
  readonly header: ResponseHeaderWire;
  readonly token: string;
}

// ---- Election (v3electionpb) ---------------------------------------------------------------

/** LeaderKey as a handler writes it (CampaignResponse.leader). */
export interface LeaderKeyWire {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  readonly rev: string;
  readonly lease: string;
}

/** LeaderKey as decoded from a Proclaim or Resign request. */
export interface LeaderKeyRequestWire extends LeaderKeyWire {
  readonly name: Buffer;
  readonly key: Buffer;
}

export interface CampaignRequestWire {
  readonly name: Buffer;
  readonly lease: string;
  readonly value: Buffer;
}

export interface CampaignResponseWire {
  readonly header: ResponseHeaderWire;
  readonly leader: LeaderKeyWire;
}

/** Leader and Observe. */
export interface LeaderRequestWire {
  readonly name: Buffer;
}

export interface LeaderResponseWire {
  readonly header: ResponseHeaderWire;
  readonly kv: KeyValueWire;
}

export interface ProclaimRequestWire {
  /** null when the client left it out: etcd answers `"leader" field must be provided`. */
  readonly leader: LeaderKeyRequestWire | null;
  readonly value: Buffer;
}

export type ProclaimResponseWire = HeaderOnlyResponseWire;

export interface ResignRequestWire {
  /** null when the client left it out: etcd answers `"leader" field must be provided`. */
  readonly leader: LeaderKeyRequestWire | null;
}

export type ResignResponseWire = HeaderOnlyResponseWire;

// ---- Lock (v3lockpb) -----------------------------------------------------------------------

export interface LockRequestWire {
  readonly name: Buffer;
  readonly lease: string;
}

export interface LockResponseWire {
  readonly header: ResponseHeaderWire;
  readonly key: Uint8Array;
}

export interface UnlockRequestWire {
  readonly key: Buffer;
}

export type UnlockResponseWire = HeaderOnlyResponseWire;
