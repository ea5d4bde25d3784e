/**
 * The client API (proto/raftree.proto: KV, Watch, Cluster) as a node extension:
 *
 *   RaftreeNode.start(config, { extensions: [clientApiExtension()] })
 *
 * One extension instance per node. See docs/api.md.
 */
import type * as grpc from '@grpc/grpc-js';
import type { NodeExtension, RaftreeNode } from '../node/raftree-node.js';
import type { ApiContext } from './api-context.js';
import { CallRunner } from './call-runner.js';
import { clusterServiceImplementation } from './cluster-service.js';
import { HeaderFactory } from './header.js';
import { kvServiceImplementation } from './kv-service.js';
import { LeaderRouter } from './leader-router.js';
import { clientServiceDefinitions, guardedService } from './proto.js';
import { watchServiceImplementation } from './watch-service.js';

export interface ClientApiOptions {
  /** Deadline for unary calls whose client set none (default 30 s): nothing waits forever. */
  readonly defaultTimeoutMs?: number;
  /** Period of progress notifications for watches that ask for them (default 10 s). */
  readonly watchProgressIntervalMs?: number;
  /** Events one watch may have waiting on a slow stream before it is cancelled (default 10 000). */
  readonly watchMaxBufferedEvents?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_WATCH_PROGRESS_INTERVAL_MS = 10_000;

export { clusterIdOf } from './header.js';
export { ApiError, Trailer, NO_LEADER_MESSAGE } from './errors.js';
export { FORWARDED_BY_METADATA } from './call-context.js';
export { CLIENT_SERVICE_NAMES, clientServiceDefinitions } from './proto.js';

export function clientApiExtension(options: ClientApiOptions = {}): NodeExtension {
  let parts: { runner: CallRunner; headers: HeaderFactory; router: LeaderRouter } | null = null;
  return {
    prepare(): void {
      clientServiceDefinitions();
    },
    attach(node: RaftreeNode, server: grpc.Server): void {
      if (parts !== null) throw new Error('clientApiExtension(): create one extension per node');
      const runner = new CallRunner(node, options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
      const headers = new HeaderFactory(node);
      const router = new LeaderRouter(node);
      parts = { runner, headers, router };
      const services = clientServiceDefinitions();
      const api: ApiContext = { node, runner, headers, router, services };
      const limit = node.config.limits.maxRequestBytes;
      server.addService(guardedService(services.kv, limit), kvServiceImplementation(api));
      server.addService(
        guardedService(services.watch, limit),
        watchServiceImplementation(api, {
          progressIntervalMs: options.watchProgressIntervalMs ?? DEFAULT_WATCH_PROGRESS_INTERVAL_MS,
          ...(options.watchMaxBufferedEvents === undefined
            ? {}
            : { maxBufferedEvents: options.watchMaxBufferedEvents }),
        }),
      );
      server.addService(guardedService(services.cluster, limit), clusterServiceImplementation(api));
    },
    stop(): void {
      if (parts === null) return;
      // Ends open watch streams and in-flight calls so the server can shut down promptly.
      parts.runner.stop();
      parts.router.close();
      parts.headers.close();
    },
  };
}
