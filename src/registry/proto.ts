/** Loads proto/registry.proto (which imports raftree.proto for the response header). */
import { dirname } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoFile, PROTO_LOADER_OPTIONS } from '../transport/raft-proto.js';
import { ProtoNotFoundError } from '../transport/errors.js';

export const REGISTRY_SERVICE_NAME = 'raftree.v1.Registry';
export const REGISTRY_METHODS = ['Register', 'Deregister', 'Heartbeat', 'Discover', 'WatchService'] as const;

/** The package definition of registry.proto with the given loader options. */
export function loadRegistryProto(options: protoLoader.Options): protoLoader.PackageDefinition {
  const file = findProtoFile('registry.proto');
  // The import of "raftree.proto" resolves against the proto directory.
  return protoLoader.loadSync('registry.proto', { ...options, includeDirs: [dirname(file)] });
}

let cached: protoLoader.ServiceDefinition | null = null;

/** The Registry service definition as the server uses it (same options as the KV API). */
export function registryServiceDefinition(): protoLoader.ServiceDefinition {
  if (cached !== null) return cached;
  const found = loadRegistryProto(PROTO_LOADER_OPTIONS)[REGISTRY_SERVICE_NAME];
  if (found === undefined || !REGISTRY_METHODS.every((m) => m in found)) {
    throw new ProtoNotFoundError(`service ${REGISTRY_SERVICE_NAME} is not in registry.proto`);
  }
  cached = found as protoLoader.ServiceDefinition;
  return cached;
}
