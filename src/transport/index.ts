/**
 * Raft peer transport over gRPC. See docs/transport.md.
 *
 * Receiving: `registerRaftPeerService(server, { selfId, onMessage })` on the node's one
 * grpc.Server (created with RAFT_PEER_SERVER_OPTIONS). Sending: `new PeerTransport(...)`.
 */
export { PeerTransport, DEFAULT_PEER_TRANSPORT_LIMITS } from './peer-transport.js';
export type {
  PeerTransportOptions,
  PeerTransportLimits,
  PeerTransportStats,
  PeerSendStats,
} from './peer-transport.js';
export {
  registerRaftPeerService,
  RAFT_PEER_SERVER_OPTIONS,
  RAFT_PEER_MAX_RECEIVE_MESSAGE_BYTES,
  DEFAULT_MAX_SNAPSHOT_BYTES,
} from './peer-service.js';
export type { RaftPeerServiceOptions, RaftPeerServiceHandle, PeerReceiveStats } from './peer-service.js';
export type { PeerLinkState, PeerCounters } from './peer-link.js';
export type { BackoffPolicy } from './backoff.js';
export { DEFAULT_BACKOFF } from './backoff.js';
export type { TransportLogger } from './logger.js';
export { TransportUsageError, MalformedMessageError, ProtoNotFoundError } from './errors.js';
export { findProtoFile, raftPeerService } from './raft-proto.js';
