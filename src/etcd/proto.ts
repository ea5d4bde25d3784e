/**
 * Loads proto/etcd/ (etcd's v3.4 gRPC API, restated) with @grpc/proto-loader and hands out the
 * service definitions of the etcd-compatible front door. The shapes the options below produce
 * are described in wire-types.ts.
 */
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { ProtoNotFoundError } from '../transport/errors.js';
import { findProtoFile } from '../transport/raft-proto.js';

/** Fully qualified service names: with the method names they make etcd's gRPC paths. */
export const ETCD_SERVICE_NAMES = Object.freeze({
  kv: 'etcdserverpb.KV',
  watch: 'etcdserverpb.Watch',
  lease: 'etcdserverpb.Lease',
  cluster: 'etcdserverpb.Cluster',
  maintenance: 'etcdserverpb.Maintenance',
  auth: 'etcdserverpb.Auth',
  election: 'v3electionpb.Election',
  lock: 'v3lockpb.Lock',
} as const);

export type EtcdServiceKey = keyof typeof ETCD_SERVICE_NAMES;

export type EtcdServiceDefinitions = { readonly [K in EtcdServiceKey]: protoLoader.ServiceDefinition };

/** The files that declare the services, relative to the include directory (they import the rest). */
const ETCD_PROTO_FILES = [
  'etcdserverpb/rpc.proto',
  'v3electionpb/v3election.proto',
  'v3lockpb/v3lock.proto',
] as const;

/**
 * The options wire-types.ts is written against (the include directory is added at load time).
 * keepCase: handlers use etcd's field names exactly (`range_end`, `ID`, `peerURLs`). longs as
 * String: member and cluster ids use all 64 bits. enums as Number: an unknown value reaches
 * validation instead of being dropped. defaults and oneofs: see wire-types.ts.
 */
export const ETCD_PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
});

/**
 * The directory holding proto/etcd/'s packages, found the way the other protos are (walking
 * up from this module, so it works from src/ under vitest/tsx and from dist/ compiled, or via
 * RAFTREE_PROTO_DIR).
 */
export function etcdProtoDir(): string {
  // proto/etcd/etcdserverpb/rpc.proto → proto/etcd
  return dirname(dirname(findProtoFile('etcd/etcdserverpb/rpc.proto')));
}

let cachedPackage: protoLoader.PackageDefinition | null = null;
let cachedServices: EtcdServiceDefinitions | null = null;

/** Every service and message of proto/etcd/, parsed once per process. */
export function etcdPackageDefinition(): protoLoader.PackageDefinition {
  if (cachedPackage !== null) return cachedPackage;
  const dir = etcdProtoDir();
  // Absolute top-level paths and the same directory for imports: protobufjs then sees each
  // file under one path and does not define rpc.proto twice when election and lock import it.
  cachedPackage = protoLoader.loadSync(
    ETCD_PROTO_FILES.map((file) => join(dir, file)),
    { ...ETCD_PROTO_LOADER_OPTIONS, includeDirs: [dir] },
  );
  return cachedPackage;
}

/** The eight etcd service definitions, ready for grpc.Server.addService. */
export function etcdServiceDefinitions(): EtcdServiceDefinitions {
  if (cachedServices !== null) return cachedServices;
  const definition = etcdPackageDefinition();
  const service = (key: EtcdServiceKey): protoLoader.ServiceDefinition => {
    const name = ETCD_SERVICE_NAMES[key];
    const found = definition[name];
    // Message and enum definitions carry `format`; services are plain maps of methods.
    if (found === undefined || 'format' in found || Object.keys(found).length === 0) {
      throw new ProtoNotFoundError(`service ${name} is not in ${etcdProtoDir()}`);
    }
    return found as protoLoader.ServiceDefinition;
  };
  cachedServices = Object.freeze({
    kv: service('kv'),
    watch: service('watch'),
    lease: service('lease'),
    cluster: service('cluster'),
    maintenance: service('maintenance'),
    auth: service('auth'),
    election: service('election'),
    lock: service('lock'),
  });
  return cachedServices;
}
