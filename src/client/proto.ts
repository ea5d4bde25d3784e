/**
 * Loads proto/raftree.proto once and exposes the client-facing methods typed with the shapes
 * in wire.ts. The file is located the same way the peer transport finds raft.proto.
 */
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import { findProtoFile } from '../transport/raft-proto.js';
import type * as W from './wire.js';

export const CLIENT_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: false,
  // Revisions, indexes and terms stay far below 2^53.
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  arrays: true,
};

type Empty = Record<string, never>;

export interface RaftreeMethods {
  readonly range: MethodDefinition<W.RangeRequestWire, W.RangeResponseWire>;
  readonly put: MethodDefinition<W.PutRequestWire, W.PutResponseWire>;
  readonly delete: MethodDefinition<W.DeleteRequestWire, W.DeleteResponseWire>;
  readonly txn: MethodDefinition<W.TxnRequestWire, W.TxnResponseWire>;
  readonly compact: MethodDefinition<W.CompactRequestWire, W.CompactResponseWire>;
  readonly watch: MethodDefinition<W.WatchRequestWire, W.WatchResponseWire>;
  readonly status: MethodDefinition<Empty, W.StatusResponseWire>;
  readonly members: MethodDefinition<Empty, W.MembersResponseWire>;
  readonly memberAdd: MethodDefinition<W.MemberAddRequestWire, W.MemberChangeResponseWire>;
  readonly memberRemove: MethodDefinition<{ id: string }, W.MemberChangeResponseWire>;
  readonly transferLeadership: MethodDefinition<
    W.TransferLeadershipRequestWire,
    W.TransferLeadershipResponseWire
  >;
}

export class ClientProtoError extends Error {
  override readonly name = 'ClientProtoError';
}

let cached: RaftreeMethods | null = null;

function method(
  definition: protoLoader.PackageDefinition,
  service: string,
  name: string,
): MethodDefinition<object, object> {
  const serviceDefinition = definition[`raftree.v1.${service}`];
  const found =
    serviceDefinition !== undefined && name in serviceDefinition
      ? (serviceDefinition as protoLoader.ServiceDefinition)[name]
      : undefined;
  if (found === undefined)
    throw new ClientProtoError(`raftree.v1.${service}/${name} is not in raftree.proto`);
  return found;
}

/** Every client method (loaded once; loading parses the .proto file). */
export function raftreeMethods(): RaftreeMethods {
  if (cached !== null) return cached;
  const definition = protoLoader.loadSync(findProtoFile('raftree.proto'), CLIENT_PROTO_OPTIONS);
  const methods = {
    range: method(definition, 'KV', 'Range'),
    put: method(definition, 'KV', 'Put'),
    delete: method(definition, 'KV', 'Delete'),
    txn: method(definition, 'KV', 'Txn'),
    compact: method(definition, 'KV', 'Compact'),
    watch: method(definition, 'Watch', 'Watch'),
    status: method(definition, 'Cluster', 'Status'),
    members: method(definition, 'Cluster', 'Members'),
    memberAdd: method(definition, 'Cluster', 'MemberAdd'),
    memberRemove: method(definition, 'Cluster', 'MemberRemove'),
    transferLeadership: method(definition, 'Cluster', 'TransferLeadership'),
  };
  // proto-loader types messages as `object`; wire.ts is our promise about what the options
  // above make of raftree.proto.
  cached = methods as unknown as RaftreeMethods;
  return cached;
}
