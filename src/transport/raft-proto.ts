/**
 * Loads proto/raft.proto at runtime with @grpc/proto-loader and exposes the RaftPeer service
 * definition typed with the hand-written wire shapes.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import { ProtoNotFoundError } from './errors.js';
import type { MessageBatchWire, SendAckWire, SnapshotAckWire, SnapshotChunkWire } from './wire-types.js';

/** The options every consumer of the wire shapes in wire-types.ts relies on. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  // Indexes and terms stay below 2^53; the codec rejects anything that does not.
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};

/**
 * Finds `proto/<fileName>` by walking up from this module's directory. The same code runs as
 * src/transport/*.ts (vitest, tsx) and as dist/src/transport/*.js (compiled), which sit at
 * different depths below the repository root, so a fixed relative path would break one of
 * them. RAFTREE_PROTO_DIR overrides the search for unusual layouts (bundles, containers).
 */
export function findProtoFile(fileName: string): string {
  const override = process.env['RAFTREE_PROTO_DIR'];
  if (override !== undefined && override !== '') {
    const candidate = resolve(override, fileName);
    if (existsSync(candidate)) return candidate;
    throw new ProtoNotFoundError(`RAFTREE_PROTO_DIR is set but ${candidate} does not exist`);
  }
  const start = dirname(fileURLToPath(import.meta.url));
  let directory = start;
  for (;;) {
    const candidate = join(directory, 'proto', fileName);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  throw new ProtoNotFoundError(`proto/${fileName} not found in ${start} or any directory above it`);
}

export const RAFT_PEER_SERVICE_NAME = 'raftree.raft.RaftPeer';

export interface RaftPeerServiceDefinition {
  readonly Send: MethodDefinition<MessageBatchWire, SendAckWire>;
  readonly InstallSnapshot: MethodDefinition<SnapshotChunkWire, SnapshotAckWire>;
}

let cachedService: RaftPeerServiceDefinition | null = null;

/** The RaftPeer service definition (loaded once; loading parses the .proto file). */
export function raftPeerService(): RaftPeerServiceDefinition {
  if (cachedService !== null) return cachedService;
  const packageDefinition = protoLoader.loadSync(findProtoFile('raft.proto'), PROTO_LOADER_OPTIONS);
  const service = packageDefinition[RAFT_PEER_SERVICE_NAME];
  if (service === undefined || !('Send' in service) || !('InstallSnapshot' in service)) {
    throw new ProtoNotFoundError(
      `${RAFT_PEER_SERVICE_NAME} with Send and InstallSnapshot is not in raft.proto`,
    );
  }
  // proto-loader types messages as `object`; the wire shapes are our promise about what the
  // options above make of raft.proto, and the codec validates decoded values anyway.
  cachedService = service as unknown as RaftPeerServiceDefinition;
  return cachedService;
}
