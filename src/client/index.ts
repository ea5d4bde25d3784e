/**
 * The raftree TypeScript client. See docs/cli.md ("Client library").
 */
export { RaftreeClient } from './client.js';
export type { RaftreeClientOptions, CallOptions, GetOptions, PutOptions, DeleteOptions } from './client.js';
export { RaftreeError, WatchCompactedError } from './errors.js';
export type { RaftreeErrorCode } from './errors.js';
export { compare, op, TxnBuilder, CompareBuilder } from './txn.js';
export type { Compare, CompareOperator, CompareTarget, TxnOp, TxnRequest, TxnGetOptions } from './txn.js';
export { Watcher } from './watch.js';
export type {
  WatchOptions,
  WatchEvent,
  WatchCreatedInfo,
  WatchReconnectInfo,
  WatcherEvents,
} from './watch.js';
export { KeyValue, toBytes, bytesToText } from './types.js';
export type {
  Bytes,
  Child,
  DeleteResult,
  EndpointStatus,
  GetResult,
  Member,
  MemberProgress,
  MembersResult,
  NodeStatus,
  PutResult,
  ResponseHeader,
  TxnOpResult,
  TxnResult,
} from './types.js';
export { DEFAULT_RETRY_POLICY, fullJitterDelayMs } from './backoff.js';
export type { RetryPolicy } from './backoff.js';
export { Session } from './session.js';
export type {
  GrantedSession,
  SessionOptions,
  SessionEvents,
  SessionInfo,
  SessionKeepAliveInfo,
} from './session.js';
export { Election, Leadership, LeaderObserver } from './election.js';
export type { ElectionLeader, LeaderKey, LeaderObserverEvents, WaitOptions } from './election.js';
export { Lock } from './lock.js';
export type {
  CreateOptions,
  CreateResult,
  DeleteNodeOptions,
  NodeStat,
  SessionRef,
  TreeReadOptions,
} from './tree.js';
export { ServiceDiscovery } from './discovery.js';
export type { DiscoveryOptions, DiscoveryCallOptions, ServiceDiscoveryEvents } from './discovery.js';
export { ServiceWatch } from './registry.js';
export type {
  DiscoverOptions,
  DiscoverResult,
  InstanceRegistration,
  RegisterResult,
  RegisteredInstance,
  RegistryCheckInput,
  ServiceWatchEvent,
  ServiceWatchEvents,
} from './registry.js';
