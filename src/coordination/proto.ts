/** Loads proto/coordination.proto (Session, Tree, Election) for the server, once per process. */
import * as protoLoader from '@grpc/proto-loader';
import { findProtoFile, PROTO_LOADER_OPTIONS } from '../transport/raft-proto.js';
import { ProtoNotFoundError } from '../transport/errors.js';

export const COORDINATION_SERVICE_NAMES = {
  session: 'raftree.v1.Session',
  tree: 'raftree.v1.Tree',
  election: 'raftree.v1.Election',
} as const;

export interface CoordinationServiceDefinitions {
  readonly session: protoLoader.ServiceDefinition;
  readonly tree: protoLoader.ServiceDefinition;
  readonly election: protoLoader.ServiceDefinition;
}

let cached: CoordinationServiceDefinitions | null = null;

export function coordinationServiceDefinitions(): CoordinationServiceDefinitions {
  if (cached !== null) return cached;
  // Same options as the KV API (int64 as number, enums as numbers, defaults filled in).
  const definition = protoLoader.loadSync(findProtoFile('coordination.proto'), PROTO_LOADER_OPTIONS);
  const service = (name: string, probe: string): protoLoader.ServiceDefinition => {
    const found = definition[name];
    if (found === undefined || !(probe in found)) {
      throw new ProtoNotFoundError(`service ${name} is not in coordination.proto`);
    }
    return found as protoLoader.ServiceDefinition;
  };
  cached = {
    session: service(COORDINATION_SERVICE_NAMES.session, 'KeepAlive'),
    tree: service(COORDINATION_SERVICE_NAMES.tree, 'Create'),
    election: service(COORDINATION_SERVICE_NAMES.election, 'Campaign'),
  };
  return cached;
}

/** A method of one of the services (throws if the proto lacks it: a build mistake, not input). */
export function methodOf(
  service: protoLoader.ServiceDefinition,
  name: string,
): protoLoader.MethodDefinition<object, object> {
  const method = service[name];
  if (method === undefined) throw new ProtoNotFoundError(`method ${name} is not in coordination.proto`);
  return method;
}
