/**
 * The etcd v3 API (etcdserverpb KV, Watch, Lease, Cluster, Maintenance; v3electionpb;
 * v3lockpb) as a node extension, on the same gRPC port as the native API:
 *
 *   RaftreeNode.start(config, { extensions: [etcdApiExtension()] })
 *
 * One keyspace, one revision counter: the native API and etcd clients see the same data, and
 * etcd leases are raftree sessions. See docs/etcd-compat.md.
 */
import * as grpc from '@grpc/grpc-js';
import type { NodeExtension, RaftreeNode } from '../node/raftree-node.js';
import { CallRunner } from '../api/call-runner.js';
import { HeaderFactory } from '../api/header.js';
import { LeaderRouter } from '../api/leader-router.js';
import { guardedService, RejectedRequest } from '../api/proto.js';
import type { EtcdContext } from './context.js';
import { EtcdErrors, toEtcdError } from './errors.js';
import { clusterServiceImplementation } from './cluster-service.js';
import { kvServiceImplementation } from './kv-service.js';
import { electionServiceImplementation } from './election-service.js';
import { lockServiceImplementation } from './lock-service.js';
import { leaseServiceImplementation } from './lease-service.js';
import { maintenanceServiceImplementation } from './maintenance-service.js';
import { watchResponseSerializer, withWatchSerializer } from './watch-codec.js';
import { watchServiceImplementation } from './watch-service.js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { etcdServiceDefinitions, type EtcdServiceDefinitions, type EtcdServiceKey } from './proto.js';

export interface EtcdApiOptions {
  /** Deadline for unary calls whose client set none (default 30 s). */
  readonly defaultTimeoutMs?: number;
  /** Period of progress notifications for watches created with progress_notify (default 10 min, as etcd). */
  readonly watchProgressIntervalMs?: number;
  /** Events one watch may hold for a slow client before it is restarted from history (default 10 000). */
  readonly watchMaxBufferedEvents?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** A service's handlers, given what every etcd service shares. */
type ServiceFactory = (context: EtcdContext) => grpc.UntypedServiceImplementation;

/** Every etcd service raftree serves. Auth is answered but not implemented (see authService). */
const SERVICES: Partial<Record<EtcdServiceKey, ServiceFactory>> = {
  kv: kvServiceImplementation,
  watch: watchServiceImplementation,
  cluster: clusterServiceImplementation,
  maintenance: maintenanceServiceImplementation,
  lease: leaseServiceImplementation,
  election: electionServiceImplementation,
  lock: lockServiceImplementation,
  auth: authServiceImplementation,
};

/** etcd answers oversized requests with InvalidArgument "request is too large"; so do we. */
const etcdTooLarge = (): RejectedRequest =>
  new RejectedRequest(EtcdErrors.requestTooLarge.code, EtcdErrors.requestTooLarge.message);

/** A service's definition as served: Watch encodes each event once for all its watchers. */
function served(services: EtcdServiceDefinitions, key: EtcdServiceKey): ServiceDefinition {
  const service = services[key];
  return key === 'watch' ? { ...service, Watch: withWatchSerializer(service['Watch']!) } : service;
}

export function etcdApiExtension(options: EtcdApiOptions = {}): NodeExtension {
  let context: EtcdContext | null = null;
  return {
    prepare(): void {
      etcdServiceDefinitions();
      watchResponseSerializer();
    },
    attach(node: RaftreeNode, server: grpc.Server): void {
      if (context !== null) throw new Error('etcdApiExtension(): create one extension per node');
      const services = etcdServiceDefinitions();
      context = {
        node,
        runner: new CallRunner(node, options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS, (error) =>
          toEtcdError(error),
        ),
        headers: new HeaderFactory(node),
        router: new LeaderRouter(node),
        services,
        options,
      };
      const limit = node.config.limits.maxRequestBytes;
      for (const [key, factory] of Object.entries(SERVICES) as [EtcdServiceKey, ServiceFactory][]) {
        server.addService(guardedService(served(services, key), limit, etcdTooLarge), factory(context));
      }
    },
    stop(): void {
      if (context === null) return;
      // Ends open streams and in-flight calls so the server can shut down promptly.
      context.runner.stop();
      context.router.close();
      context.headers.close();
    },
  };
}

/**
 * raftree has no users or roles yet: every Auth call answers "authentication is not enabled",
 * which is what etcd says to a client that tries to log in to a cluster without auth.
 */
function authServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(context.services.auth)) {
    implementation[method] = context.runner.unary(`etcd.Auth/${method}`, 'read', () =>
      Promise.reject(EtcdErrors.authNotEnabled),
    );
  }
  return implementation;
}
