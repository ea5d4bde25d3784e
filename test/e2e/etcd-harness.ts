/**
 * Raw gRPC clients for raftree's etcd-compatible API, generated from proto/etcd (deliberately
 * not the etcd3 package: these tests pin the wire contract), and a cluster running it.
 */
import * as grpc from '@grpc/grpc-js';
import { clientApiExtension } from '../../src/api/index.js';
import { coordinationExtension } from '../../src/coordination/index.js';
import { etcdApiExtension } from '../../src/etcd/index.js';
import { etcdPackageDefinition } from '../../src/etcd/proto.js';
import type { NodeExtension } from '../../src/node/raftree-node.js';
import { startCluster, type ClusterOptions, type RawClient, type TestCluster } from './api-harness.js';

/** etcd's ResponseHeader as the raw clients decode it (64-bit integers as decimal strings). */
export interface HeaderWire {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

/** mvccpb.KeyValue as the raw clients decode it. */
export interface KvWire {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease: string;
}

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => RawClient;

interface EtcdPackages {
  etcdserverpb: Record<'KV' | 'Watch' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth', ClientConstructor>;
  v3electionpb: { Election: ClientConstructor };
  v3lockpb: { Lock: ClientConstructor };
}

export interface EtcdRawClients {
  readonly kv: RawClient;
  readonly watch: RawClient;
  readonly lease: RawClient;
  readonly cluster: RawClient;
  readonly maintenance: RawClient;
  readonly auth: RawClient;
  readonly election: RawClient;
  readonly lock: RawClient;
  close(): void;
}

let packages: EtcdPackages | null = null;

/** Raw clients of every etcd service at `address` (a raftree member or a real etcd). */
export function etcdClients(address: string): EtcdRawClients {
  packages ??= grpc.loadPackageDefinition(etcdPackageDefinition()) as unknown as EtcdPackages;
  const credentials = grpc.credentials.createInsecure();
  const { etcdserverpb: pb, v3electionpb, v3lockpb } = packages;
  const clients = {
    kv: new pb.KV(address, credentials),
    watch: new pb.Watch(address, credentials),
    lease: new pb.Lease(address, credentials),
    cluster: new pb.Cluster(address, credentials),
    maintenance: new pb.Maintenance(address, credentials),
    auth: new pb.Auth(address, credentials),
    election: new v3electionpb.Election(address, credentials),
    lock: new v3lockpb.Lock(address, credentials),
  };
  return {
    ...clients,
    close() {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

/** The extensions a production node runs that the etcd API needs (native API, sessions, etcd). */
export function etcdNodeExtensions(): NodeExtension[] {
  return [clientApiExtension(), coordinationExtension(), etcdApiExtension()];
}

/** An in-process cluster serving the etcd API (see startCluster). */
export function startEtcdCluster(options: Omit<ClusterOptions, 'extensions'> = {}): Promise<TestCluster> {
  return startCluster({ ...options, extensions: etcdNodeExtensions });
}
