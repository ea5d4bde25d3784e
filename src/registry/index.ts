/**
 * The service registry (proto/registry.proto) as a node extension:
 *
 *   RaftreeNode.start(config, { extensions: [clientApiExtension(), registryExtension(), httpExtension()] })
 *
 * It serves the Registry gRPC service, runs the cluster's health checks while this node leads,
 * and answers the HTTP side port's `/v1/…` routes (see http-routes.ts). One extension
 * instance per node. See docs/coordination.md ("Service registry", "Health checks").
 */
import type * as grpc from '@grpc/grpc-js';
import { CallRunner } from '../api/call-runner.js';
import { HeaderFactory } from '../api/header.js';
import { LeaderRouter } from '../api/leader-router.js';
import { guardedService } from '../api/proto.js';
import type { ProbeFunction } from '../health/probe-loop.js';
import type { NodeExtension, RaftreeNode } from '../node/raftree-node.js';
import { HealthManager } from './health-manager.js';
import { attachRegistryHttp, detachRegistryHttp } from './http-routes.js';
import { registryServiceDefinition } from './proto.js';
import { RegistryOperations } from './registry-service.js';
import { ServiceWatchStream } from './watch-stream.js';
import type {
  DeregisterRequestWire,
  DiscoverRequestWire,
  HeartbeatRequestWire,
  RegisterRequestWire,
} from './wire.js';

export interface RegistryOptions {
  /** Deadline of calls whose client set none (default 30 s). */
  readonly defaultTimeoutMs?: number;
  /** How often the leader compares instances with its running checks (default 5 s). */
  readonly resyncIntervalMs?: number;
  /** Replaces the real probes (tests). */
  readonly probe?: ProbeFunction;
  /** Spread each check's first probe over its interval (default true). */
  readonly staggerFirstProbe?: boolean;
}

export { REGISTRY_SERVICE_NAME, registryServiceDefinition, loadRegistryProto } from './proto.js';
export type { RegistryOperations } from './registry-service.js';
export type { HealthManager } from './health-manager.js';

/** What one node's registry extension exposes (for tests and the HTTP routes). */
export interface RegistryHandle {
  readonly operations: RegistryOperations;
  readonly health: HealthManager;
  readonly runner: CallRunner;
}

export interface RegistryExtension extends NodeExtension {
  /** Null until the node has attached it. */
  readonly handle: RegistryHandle | null;
}

export function registryExtension(options: RegistryOptions = {}): RegistryExtension {
  let parts: {
    node: RaftreeNode;
    runner: CallRunner;
    headers: HeaderFactory;
    router: LeaderRouter;
    health: HealthManager;
    operations: RegistryOperations;
  } | null = null;
  return {
    get handle() {
      return parts === null
        ? null
        : { operations: parts.operations, health: parts.health, runner: parts.runner };
    },

    prepare(): void {
      registryServiceDefinition();
    },

    attach(node: RaftreeNode, server: grpc.Server): void {
      if (parts !== null) throw new Error('registryExtension(): create one extension per node');
      const runner = new CallRunner(node, options.defaultTimeoutMs ?? 30_000);
      const headers = new HeaderFactory(node);
      const router = new LeaderRouter(node);
      const service = registryServiceDefinition();
      const health = new HealthManager({
        replica: node.replica,
        logger: node.logger.child({ module: 'health-checks' }),
        ...(options.resyncIntervalMs === undefined ? {} : { resyncIntervalMs: options.resyncIntervalMs }),
        ...(options.probe === undefined ? {} : { probe: options.probe }),
        ...(options.staggerFirstProbe === undefined ? {} : { staggerFirstProbe: options.staggerFirstProbe }),
      });
      const operations = new RegistryOperations({ node, headers, router, service, health });
      parts = { node, runner, headers, router, health, operations };
      const deps = { node, runner, headers, operations };
      server.addService(guardedService(service, node.config.limits.maxRequestBytes), {
        Register: runner.unary('Registry/Register', 'write', (request: RegisterRequestWire, context) =>
          operations.register(request, context),
        ),
        Deregister: runner.unary('Registry/Deregister', 'write', (request: DeregisterRequestWire, context) =>
          operations.deregister(request, context),
        ),
        Heartbeat: runner.unary('Registry/Heartbeat', 'write', (request: HeartbeatRequestWire, context) =>
          operations.heartbeat(request, context),
        ),
        Discover: runner.unary('Registry/Discover', 'read', (request: DiscoverRequestWire, context) =>
          operations.discover(request, context),
        ),
        WatchService: (call: ConstructorParameters<typeof ServiceWatchStream>[1]) =>
          new ServiceWatchStream(deps, call).start(),
      });
      attachRegistryHttp(node, { operations, runner, health });
    },

    started(): void {
      parts?.health.start();
    },

    async stop(): Promise<void> {
      if (parts === null) return;
      detachRegistryHttp(parts.node);
      parts.runner.stop();
      await parts.health.stop();
      parts.router.close();
      parts.headers.close();
    },
  };
}
