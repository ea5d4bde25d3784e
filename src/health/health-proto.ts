/**
 * The standard grpc.health.v1 Health service, loaded from proto/health.proto. Probes call
 * Check through it; a raftree process (or a test) can serve it with healthServiceDefinition().
 */
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import { findProtoFile } from '../transport/raft-proto.js';

export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthCheckRequestWire {
  service: string;
}

export interface HealthCheckResponseWire {
  status: ServingStatus;
}

export interface HealthServiceDefinition {
  readonly Check: MethodDefinition<HealthCheckRequestWire, HealthCheckResponseWire>;
  readonly Watch: MethodDefinition<HealthCheckRequestWire, HealthCheckResponseWire>;
}

export class HealthProtoError extends Error {
  override readonly name = 'HealthProtoError';
}

const HEALTH_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: false,
  // Status names read better in check output than their numbers.
  enums: String,
  defaults: true,
};

let cached: HealthServiceDefinition | null = null;

/** The Health service definition (loaded once; loading parses the .proto file). */
export function healthServiceDefinition(): HealthServiceDefinition {
  if (cached !== null) return cached;
  const packageDefinition = protoLoader.loadSync(findProtoFile('health.proto'), HEALTH_PROTO_OPTIONS);
  const service = packageDefinition[HEALTH_SERVICE_NAME];
  if (service === undefined || !('Check' in service) || !('Watch' in service)) {
    throw new HealthProtoError(`${HEALTH_SERVICE_NAME} with Check and Watch is not in health.proto`);
  }
  // proto-loader types messages as `object`; the wire interfaces above are what the options
  // make of health.proto (enums as names, defaults filled in).
  cached = service as unknown as HealthServiceDefinition;
  return cached;
}
