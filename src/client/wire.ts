/**
 * The shapes @grpc/proto-loader makes of proto/raftree.proto under CLIENT_PROTO_OPTIONS
 * (camelCase fields, int64 as number, enums as their names, unset messages as null, bytes as
 * Buffer). Requests are what we send; proto-loader accepts plain objects with any subset of
 * fields, so request types mark everything optional except what identifies the request.
 */

export type RangeModeWire = 'EXACT' | 'PREFIX' | 'CHILDREN';

export interface ResponseHeaderWire {
  clusterId: string;
  memberId: string;
  revision: number;
  raftTerm: number;
}

export interface KeyValueWire {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface RangeRequestWire {
  key: string;
  mode?: RangeModeWire;
  revision?: number;
  limit?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  serializable?: boolean;
}

export interface ChildWire {
  name: string;
  key: string;
  hasKey: boolean;
  kv: KeyValueWire | null;
}

export interface RangeResponseWire {
  header: ResponseHeaderWire | null;
  kvs: KeyValueWire[];
  count: number;
  more: boolean;
  children: ChildWire[];
}

export interface PutRequestWire {
  key: string;
  value: Uint8Array;
  prevKv?: boolean;
}

export interface PutResponseWire {
  header: ResponseHeaderWire | null;
  prevKv: KeyValueWire | null;
}

export interface DeleteRequestWire {
  key: string;
  prefix?: boolean;
  prevKv?: boolean;
}

export interface DeleteResponseWire {
  header: ResponseHeaderWire | null;
  deleted: number;
  prevKvs: KeyValueWire[];
}

export type CompareTargetWire = 'VALUE' | 'VERSION' | 'CREATE_REVISION' | 'MOD_REVISION';
export type CompareResultWire = 'EQUAL' | 'NOT_EQUAL' | 'LESS' | 'GREATER';

export interface CompareWire {
  key: string;
  target: CompareTargetWire;
  result: CompareResultWire;
  value?: Uint8Array;
  number?: number;
}

export type RequestOpWire =
  { range: RangeRequestWire } | { put: PutRequestWire } | { delete: DeleteRequestWire };

export interface ResponseOpWire {
  /** proto-loader's `oneofs: true` names the member that is set. */
  response?: 'range' | 'put' | 'delete';
  range?: RangeResponseWire | null;
  put?: PutResponseWire | null;
  delete?: DeleteResponseWire | null;
}

export interface TxnRequestWire {
  compare: CompareWire[];
  success: RequestOpWire[];
  failure: RequestOpWire[];
}

export interface TxnResponseWire {
  header: ResponseHeaderWire | null;
  succeeded: boolean;
  responses: ResponseOpWire[];
}

export interface CompactRequestWire {
  revision: number;
}

export interface CompactResponseWire {
  header: ResponseHeaderWire | null;
}

export interface WatchCreateRequestWire {
  key: string;
  mode?: RangeModeWire;
  startRevision?: number;
  prevKv?: boolean;
  progressNotify?: boolean;
  watchId?: number;
}

export type WatchRequestWire =
  { create: WatchCreateRequestWire } | { cancel: { watchId: number } } | { progress: Record<string, never> };

export interface EventWire {
  type: 'PUT' | 'DELETE';
  kv: KeyValueWire | null;
  prevKv: KeyValueWire | null;
}

export interface WatchResponseWire {
  header: ResponseHeaderWire | null;
  watchId: number;
  created: boolean;
  canceled: boolean;
  cancelReason: string;
  compactRevision: number;
  events: EventWire[];
  progress: boolean;
}

export interface MemberWire {
  id: string;
  address: string;
  isLearner: boolean;
}

export interface MemberProgressWire {
  id: string;
  match: number;
  next: number;
  state: string;
  recentActive: boolean;
}

export interface StatusResponseWire {
  header: ResponseHeaderWire | null;
  id: string;
  address: string;
  role: string;
  term: number;
  leader: string;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  members: MemberWire[];
  progress: MemberProgressWire[];
  keys: number;
  version: string;
}

export interface MembersResponseWire {
  header: ResponseHeaderWire | null;
  members: MemberWire[];
  leader: string;
}

export interface MemberAddRequestWire {
  id: string;
  address: string;
  learner?: boolean;
}

export interface MemberChangeResponseWire {
  header: ResponseHeaderWire | null;
  members: MemberWire[];
}

export interface TransferLeadershipRequestWire {
  target: string;
}

export interface TransferLeadershipResponseWire {
  header: ResponseHeaderWire | null;
}
