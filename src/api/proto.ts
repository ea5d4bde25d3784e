/**
 * Loads proto/raftree.proto (the client API) and wraps its request decoders so that bad bytes
 * become a value the handlers answer with a proper status instead of gRPC's generic INTERNAL.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoFile, PROTO_LOADER_OPTIONS } from '../transport/raft-proto.js';
import { ProtoNotFoundError } from '../transport/errors.js';

export const CLIENT_SERVICE_NAMES = {
  kv: 'raftree.v1.KV',
  watch: 'raftree.v1.Watch',
  cluster: 'raftree.v1.Cluster',
} as const;

export interface ClientServiceDefinitions {
  readonly kv: protoLoader.ServiceDefinition;
  readonly watch: protoLoader.ServiceDefinition;
  readonly cluster: protoLoader.ServiceDefinition;
}

let cached: ClientServiceDefinitions | null = null;

/** The KV, Watch and Cluster service definitions (parsed once per process). */
export function clientServiceDefinitions(): ClientServiceDefinitions {
  if (cached !== null) return cached;
  // Same options as the peer protocol: int64 as number (revisions and indexes stay below 2^53,
  // and validation rejects anything that does not), enums as numbers (so an unknown value
  // reaches validation instead of being dropped), defaults filled in, oneofs named.
  const definition = protoLoader.loadSync(findProtoFile('raftree.proto'), PROTO_LOADER_OPTIONS);
  const service = (name: string): protoLoader.ServiceDefinition => {
    const found = definition[name];
    if (found === undefined || !('Range' in found || 'Watch' in found || 'Status' in found)) {
      throw new ProtoNotFoundError(`service ${name} is not in raftree.proto`);
    }
    return found as protoLoader.ServiceDefinition;
  };
  cached = {
    kv: service(CLIENT_SERVICE_NAMES.kv),
    watch: service(CLIENT_SERVICE_NAMES.watch),
    cluster: service(CLIENT_SERVICE_NAMES.cluster),
  };
  return cached;
}

/** What a handler receives instead of a request whose bytes were refused. */
export class RejectedRequest {
  constructor(
    readonly code: grpc.status,
    readonly message: string,
  ) {}
}

/**
 * A copy of `service` whose request decoders check the size limit first (the server-wide
 * gRPC limit is 16 MiB because peers share the server) and never throw.
 */
/** The refusal of a request over the size limit (the etcd API words it as etcd does). */
export type TooLargeRejection = (typeName: string, bytes: number, limit: number) => RejectedRequest;

const nativeTooLarge: TooLargeRejection = (typeName, bytes, limit) =>
  new RejectedRequest(
    grpc.status.RESOURCE_EXHAUSTED,
    `${typeName} is ${bytes} bytes; the limit is ${limit} bytes per request ` +
      `(split the work into smaller requests)`,
  );

export function guardedService(
  service: protoLoader.ServiceDefinition,
  maxRequestBytes: number,
  tooLarge: TooLargeRejection = nativeTooLarge,
): protoLoader.ServiceDefinition {
  const guarded: Record<string, protoLoader.MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    // Every request message is named after its method (Put → PutRequest).
    const typeName = `${name}Request`;
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): object => {
        if (bytes.length > maxRequestBytes) return tooLarge(typeName, bytes.length, maxRequestBytes);
        try {
          return decode(bytes);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return new RejectedRequest(grpc.status.INVALID_ARGUMENT, `undecodable ${typeName}: ${reason}`);
        }
      },
    };
  }
  return guarded;
}
